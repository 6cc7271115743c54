pcre_state:
  test.nop: []
