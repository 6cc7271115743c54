only_with_check_all:
  module_and_function: test.echo
  args: [x]
  assertion: assertNotEmpty
