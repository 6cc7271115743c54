{% from 'web/map.jinja' import web with context %}
include:
  - .vhost

web-conf:
  file.managed:
    - name: {{ pillar['root'] }}/etc/web.conf
    - source: salt://web/files/web.conf.j2
    - template: jinja
    - makedirs: True
    - context:
        port: {{ web.port }}
    - defaults:
        workers: {{ web.workers }}
        port: 1
    - require:
      - file: vhost

extend:
  vhost:
    file.managed:
      - contents: extended
