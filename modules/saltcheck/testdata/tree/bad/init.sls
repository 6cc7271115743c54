bad_nop:
  test.nop: []
