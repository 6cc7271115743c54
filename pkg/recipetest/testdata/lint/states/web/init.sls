nginx-conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
    - source: salt://web/missing.conf

index:
  file.managed:
    - name: /var/www/index.html
    - source:
      - salt://web/index-{{ grains['id'] }}.html
      - salt://web/index.html
