motd:
  file.managed:
    - name: /etc/motd
    - mode: 644
    - context:
        name: /etc/motd
        name: /etc/issue
motd:
  test.nop: []
anchors:
  file.managed:
    - defaults: &d {user: root, group: root}
    - other:
        <<: *d
        group: wheel
