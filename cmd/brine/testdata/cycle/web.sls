include:
  - ok
a:
  test.nop:
    - require:
      - b
b:
  test.nop:
    - require:
      - a
