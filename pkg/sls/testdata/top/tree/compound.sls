compound_state:
  test.nop: []
