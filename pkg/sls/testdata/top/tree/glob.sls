glob_state:
  test.nop: []
