broken:
  file.managed:
    - name: {{ pillar['root'] }}/broken
    - source: salt://files/missing
