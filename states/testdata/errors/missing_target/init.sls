A:
  test.nop:
    - require:
      - file: /etc/nothere
B:
  test.nop:
    - onchanges:
      - nosuchid
