postgresql:
  pkg.installed: []

{% if grains['os'] == 'Ubuntu' %}
pg-conf:
  file.managed:
    - name: /etc/postgresql/postgresql.conf
    - sorce: salt://db/postgresql.conf
{% else %}
pg-conf:
  file.managed:
    - name: /etc/postgresql/postgresql.conf
    - contents: "max_connections = 100"
{% endif %}
