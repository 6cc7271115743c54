motd:
  file.managed:
    - name: {{ pillar['root'] }}/etc/motd
    - makedirs: True
    - contents: "{{ grains['id'] }} in {{ pillar.get('site:name', 'nowhere') }}"
