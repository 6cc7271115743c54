stop_before:
  test.succeed_with_changes:
    - prereq:
      - will_change
will_change:
  test.succeed_with_changes
noop_before:
  test.succeed_with_changes:
    - prereq:
      - wont_change
wont_change:
  test.succeed_without_changes
fails_before:
  test.fail_without_changes:
    - prereq:
      - guarded
guarded:
  test.succeed_with_changes
