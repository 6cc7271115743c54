jinja_debian_state:
  test.nop: []
