nodegroup_list_state:
  test.nop: []
