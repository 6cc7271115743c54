{{ pillar.root }}/motd:
  file.managed:
    - source: salt://motd.txt
