touched:
  file.managed:
    - name: {{ pillar['root'] }}/touched
    - contents: touched
