include:
  - a
  - b
exclude:
  - sls: b
  - id: a_two
  - {bogus: x}
main:
  test.nop: []
