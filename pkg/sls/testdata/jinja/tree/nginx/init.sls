{% from 'nginx/map.jinja' import m with context %}
nginx:
  pkg.installed:
    - name: {{ m.pkg }}
  file.managed:
    - name: {{ m.conf }}
    - source: salt://{{ slspath }}/nginx.conf
    - mode: 0644
    - context:
        workers: {{ m.workers }}
        user: {{ m.user }}
