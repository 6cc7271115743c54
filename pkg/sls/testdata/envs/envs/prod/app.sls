app_{{ saltenv }}:
  test.nop: []
