web-conf:
  file.managed:
    - name: {{ pillar['root'] }}/web.conf
    - contents: port={{ pillar.get('web:port', 80) }}
