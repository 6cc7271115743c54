pillar_state:
  test.nop: []
