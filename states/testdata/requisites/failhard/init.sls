A:
  test.succeed_without_changes
B:
  test.fail_without_changes:
    - failhard: True
C:
  test.succeed_without_changes
