motd:
  file.managed:
    - name: {{ pillar['root'] }}/etc/motd
    - makedirs: True
    - source: salt://files/motd.j2
    - template: jinja
    - mode: '0640'
