ipcidr_state:
  test.nop: []
