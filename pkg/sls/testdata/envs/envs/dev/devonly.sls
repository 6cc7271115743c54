devonly_{{ saltenv }}:
  test.nop: []
