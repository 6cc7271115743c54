{% set page = pillar['root'] ~ '/www/index.html' %}
index_exists:
  module_and_function: file.file_exists
  args: [{{ page }}]
  assertion: assertTrue

index_greets_the_minion:
  module_and_function: file.contains
  args: [{{ page }}, 'hello from {{ grains['id'] }}']
  assertion: assertTrue

index_mode:
  module_and_function: file.get_mode
  args: [{{ page }}]
  assertion: assertEqual
  expected_return: '0640'

# Deliberately wrong: the recipe makes the page 0640.
index_private:
  module_and_function: file.get_mode
  args: [{{ page }}]
  assertion: assertEqual
  expected_return: '0600'

no_stray_page:
  module_and_function: file.file_exists
  args: [{{ pillar['root'] }}/www/old.html]
  assertion: assertFalse
