shared:
  test.nop: []
only_one:
  test.nop: []
