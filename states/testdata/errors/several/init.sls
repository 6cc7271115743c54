A:
  test.nopp: []
B:
  test.nop:
    - require:
      - missing
C:
  test.nop:
    - order: sometime
