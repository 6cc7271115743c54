list_state:
  test.nop: []
