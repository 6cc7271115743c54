setup_nop:
  test.nop: []
