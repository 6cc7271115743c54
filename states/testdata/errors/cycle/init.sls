A:
  test.nop:
    - require:
      - B
B:
  test.nop:
    - require:
      - C
C:
  test.nop:
    - watch:
      - A
D:
  test.nop
