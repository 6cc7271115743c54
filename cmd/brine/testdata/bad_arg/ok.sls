untouched:
  file.managed:
    - name: {{ pillar['root'] }}/must-not-exist
    - contents: x
