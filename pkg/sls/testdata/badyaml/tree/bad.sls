ok:
  test.nop: []
broken:
  file.managed:
    - name: "/x
    - mode: 644
