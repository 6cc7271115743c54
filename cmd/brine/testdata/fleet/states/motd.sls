motd:
  file.managed:
    - name: {{ pillar['root'] }}/motd
    - makedirs: True
    - source: salt://files/motd.j2
    - template: jinja
