# The packaged test daemon, restarted (or reloaded) when its configuration
# changes.
daemon-config:
  file.managed:
    - name: /etc/brine-test-daemon.conf
    - contents: {{ pillar['conf'] }}

brine-test-daemon:
  service.running:
    - enable: True
    - reload: {{ pillar.get('reload', False) }}
    - watch:
      - file: daemon-config
