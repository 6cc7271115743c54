A:
  test.fail_without_changes
B:
  test.succeed_without_changes
C:
  test.succeed_without_changes:
    - require_any:
      - A
      - B
D:
  test.succeed_without_changes:
    - require_any:
      - A
