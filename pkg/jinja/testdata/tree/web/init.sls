{% from 'web/map.jinja' import nginx, listen with context %}
nginx:
  pkg.installed:
    - name: {{ nginx.pkg }}
  file.managed:
    - name: {{ nginx.conf }}
    - contents: "{{ listen(nginx.port) }}"
