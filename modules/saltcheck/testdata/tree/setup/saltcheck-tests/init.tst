apply_setup:
  module_and_function: saltcheck.state_apply
  args: [setup]

apply_broken:
  module_and_function: saltcheck.state_apply
  args: [broken]
