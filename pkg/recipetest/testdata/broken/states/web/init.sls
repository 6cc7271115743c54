nginx:
  pkg.installed: []

nginx-conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
    - source: salt://web/nginx.conf
    - require:
      - pkg: nginx
