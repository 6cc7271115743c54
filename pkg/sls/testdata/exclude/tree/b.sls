b_one:
  test.nop: []
