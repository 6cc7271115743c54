nginx:
  pkg.installed: []

nginx-conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
    - contents: "worker_processes 1;"
    - mode: "0640"
    - require:
      - pkg: nginx

nginx-service:
  service.running:
    - name: nginx
    - watch:
      - file: nginx-conf
