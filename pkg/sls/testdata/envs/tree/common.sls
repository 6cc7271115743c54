common_{{ saltenv }}:
  test.nop: []
