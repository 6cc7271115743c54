fine:
  module_and_function: test.echo
  args: [x]
broken:
  assertion: assertEqual: x
