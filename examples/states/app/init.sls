{% from 'app/map.jinja' import settings with context %}
{% set root = pillar.get('root', '/tmp/brine-demo') %}
include:
  - motd

app-dir:
  file.directory:
    - name: {{ root }}/srv/{{ settings.name }}
    - makedirs: True
    - mode: 755

app-config:
  file.managed:
    - name: {{ root }}/etc/{{ settings.name }}.conf
    - source: salt://app/files/app.conf.j2
    - template: jinja
    - context:
        settings: {{ settings | json }}
    - require:
      - file: app-dir

app-log:
  file.append:
    - name: {{ root }}/var/log/{{ settings.name }}.log
    - makedirs: True
    - text: started by brine

app-restart:
  cmd.run:
    - name: echo "restarting {{ settings.name }} on port {{ settings.port }}" >> {{ root }}/var/log/{{ settings.name }}.log
    - onchanges:
      - file: app-config
    - require:
      - app-log
