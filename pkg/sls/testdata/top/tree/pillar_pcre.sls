pillar_pcre_state:
  test.nop: []
