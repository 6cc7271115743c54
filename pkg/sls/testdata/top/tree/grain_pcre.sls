grain_pcre_state:
  test.nop: []
