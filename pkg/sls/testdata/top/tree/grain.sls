grain_state:
  test.nop: []
