nodegroup_state:
  test.nop: []
