{# Tests of the app state, with the settings the state itself uses. #}
{% from 'app/map.jinja' import settings with context %}
{% set root = pillar.get('root', '/tmp/brine-demo') %}
app_config_listens_on_port:
  module_and_function: file.search
  args: [{{ root }}/etc/{{ settings.name }}.conf, 'listen = [0-9.]+:{{ settings.port }}']
  assertion: assertTrue

app_restarted_once:
  module_and_function: cmd.run
  args: ['grep -c restarting {{ root }}/var/log/{{ settings.name }}.log']
  assertion: assertEqual
  expected_return: 1
