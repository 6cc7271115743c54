{% from 'nginx/map.jinja' import m with context %}
php-fpm:
  pkg.installed:
    - require:
      - pkg: {{ m.pkg }}
{% for pool in ['www', 'api'] %}
pool-{{ pool }}:
  file.managed:
    - name: /etc/php/fpm/pool.d/{{ pool }}.conf
    - user: {{ m.user }}
{% endfor %}
