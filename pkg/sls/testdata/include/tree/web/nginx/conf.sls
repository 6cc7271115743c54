include:
  - .missing
  - ....toofar

nginx_conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
