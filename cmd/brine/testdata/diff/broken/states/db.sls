postgresql:
  pkg.installed: []

{% if grains['os'] == 'Ubuntu' %}
pg-conf:
  file.managed:
    - name: /etc/postgresql/postgresql.conf
    - sorce: salt://db/postgresql.conf
{% endif %}
