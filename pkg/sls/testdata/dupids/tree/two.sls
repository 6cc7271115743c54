# two

shared:
  test.succeed_without_changes: []
