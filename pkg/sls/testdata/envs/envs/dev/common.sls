dev_common:
  test.nop: []
