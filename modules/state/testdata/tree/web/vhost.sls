vhost:
  file.managed:
    - name: {{ pillar['root'] }}/etc/vhost
    - makedirs: True
    - contents: original
