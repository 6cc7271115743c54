overlay:
  test.nop: []
by_function:
  test.nop:
    - require:
      - test.nop: overlay
wrong_module:
  test.nop:
    - watch:
      - file: overlay
