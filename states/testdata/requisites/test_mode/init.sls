changes:
  test.succeed_with_changes
nochanges:
  test.succeed_without_changes
after:
  test.succeed_with_changes:
    - onchanges:
      - changes
