motd:
  file.managed:
    - name: /etc/motd
    - contents: "{{ pillar.get('motd', 'managed by brine') }}"
