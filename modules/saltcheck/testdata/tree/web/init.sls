include:
  - web.conf

web_motd:
  test.nop: []
