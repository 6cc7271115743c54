forgotten:
  test.nop: []
