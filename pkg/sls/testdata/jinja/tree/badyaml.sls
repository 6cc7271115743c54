{% set x = 1 %}
a:
  test.nop: [
