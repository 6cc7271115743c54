{% set root = pillar.get('root', '/tmp/brine-demo') %}
motd:
  file.managed:
    - name: {{ root }}/etc/motd
    - makedirs: True
    - mode: 644
    - contents: |
        Welcome to {{ grains['id'] }}, a {{ grains['os'] }} {{ grains['osrelease'] }} host.
        This file is managed by brine: local changes will be reverted.
