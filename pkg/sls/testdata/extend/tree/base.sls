nginx_conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
    - source: salt://nginx/default.conf
    - mode: 644
    - require:
      - pkg: nginx
nginx:
  service.running:
    - names: [nginx, nginx-helper]
    - watch:
      - file: nginx_conf
