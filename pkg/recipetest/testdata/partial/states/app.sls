app-conf:
  file.managed:
    - name: /etc/app.conf
    - contents: "port = 8080"
    - require:
      - pkg: nginx
