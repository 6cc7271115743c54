nginx:
  pkg.installed: []

nginx-conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
    - contents: "worker_processes 1;"
    - mode: "0644"
    - require:
      - pkg: nginx

nginx-default-site:
  file.absent:
    - name: /etc/nginx/sites-enabled/default
