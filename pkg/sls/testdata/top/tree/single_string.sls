single_string_state:
  test.nop: []
