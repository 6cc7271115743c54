hello:
  file.managed:
    - name: /etc/hello
    - mode: 640
    - contents: hello from {{ grains['id'] }} in {{ pillar.get('place', 'nowhere') }}
