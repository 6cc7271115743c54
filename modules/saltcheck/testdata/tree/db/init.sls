db_nop:
  test.nop: []
