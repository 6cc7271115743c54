a_one:
  test.nop: []
a_two:
  test.nop: []
