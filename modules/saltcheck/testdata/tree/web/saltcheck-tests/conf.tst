conf_echo:
  module_and_function: test.echo
  args: [conf]
  assertion: assertNotEqual
  expected_return: other
  skip: True
