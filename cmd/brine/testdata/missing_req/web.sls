include:
  - ok
site:
  test.nop:
    - require:
      - file: nginx-conf
