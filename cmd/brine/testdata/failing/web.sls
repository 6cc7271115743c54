broken:
  test.fail_without_changes
fine:
  test.succeed_without_changes
