same:
  module_and_function: test.echo
  args: [x]
  assertion: assertNotEmpty
same:
  module_and_function: test.echo
  args: [y]
  assertion: assertNotEmpty
