# every way to declare a state
list_args:
  file.managed:
    - name: /etc/motd
    - source: salt://motd
    - mode: 0644
    - makedirs: yes
    - user: root

no_args:
  pkg.installed: []

null_args:
  pkg.installed:

legacy:
  file:
    - managed
    - name: /etc/legacy
    - backup: off

shorthand: pkg.installed

several:
  pkg.installed:
    - name: nginx
  service.running:
    - name: nginx
    - enable: True
  __sls__: ignored

values:
  cmd.run:
    - name: echo hi
    - timeout: 1.5
    - retry: {attempts: 3, interval: 0x10}
    - env: [{A: '1'}, {B: ~}]
    - creates: "yes"
    - stateful: No
    - shell: !!str on
