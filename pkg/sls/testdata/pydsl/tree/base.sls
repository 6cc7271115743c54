base-state:
  test.succeed_without_changes: []
