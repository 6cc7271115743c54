echo_hello:
  module_and_function: test.echo
  args:
    - hello
  assertion: assertEqual
  expected_return: hello

minion_id:
  module_and_function: grains.get
  args: [id]
  assertion: assertEqual
  expected_return: {{ grains['id'] }}

{% for word in ['alpha', 'beta'] %}
echo_{{ word }}:
  module_and_function: test.echo
  args: [{{ word }}]
  assertion: assertIn
  expected_return: {{ word[0] }}
{% endfor %}
