extra_{{ saltenv }}:
  test.nop: []
