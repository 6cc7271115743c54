typo_assertion:
  module_and_function: test.echo
  args: [x]
  assertion: assertEquals
  expected_return: x
typo_function:
  module_and_function: test.ecko
  args: [x]
  assertion: assertEqual
  expected_return: x
no_function:
  args: [x]
  assertion: assertTrue
typo_key:
  module_and_function: test.echo
  args: [x]
  assertion: assertEqual
  expected_retrun: x
no_expected:
  module_and_function: test.echo
  args: [x]
  assertion: assertEqual
