include:
  - base
extend:
  nginx_conf:
    file:
      - source: salt://app/nginx.conf
      - template: jinja
      - require:
        - file: app_dir
  nginx:
    service:
      - names: [nginx]
      - watch:
        - file: app_conf
    pkg.installed:
      - name: nginx
  ghost:
    file:
      - mode: 600
  orphan_module:
    cmd:
      - cwd: /
app_dir:
  file.directory:
    - name: /srv/app
orphan_module:
  test.nop: []
