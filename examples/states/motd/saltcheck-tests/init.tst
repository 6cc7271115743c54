{# Tests of the motd state: brine test run runs them after the highstate, and
   brine call --local saltcheck.run_state_tests motd on a live host. #}
{% set motd = pillar.get('root', '/tmp/brine-demo') ~ '/etc/motd' %}
motd_exists:
  module_and_function: file.file_exists
  args: [{{ motd }}]
  assertion: assertTrue

motd_mode:
  module_and_function: file.get_mode
  args: [{{ motd }}]
  assertion: assertEqual
  expected_return: '0644'

motd_names_the_minion:
  module_and_function: file.contains
  args: [{{ motd }}, 'Welcome to {{ grains['id'] }}']
  assertion: assertTrue
