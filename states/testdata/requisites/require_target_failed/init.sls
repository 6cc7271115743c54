A:
  test.fail_without_changes
B:
  test.succeed_with_changes:
    - require:
      - test: A
C:
  test.succeed_without_changes:
    - require:
      - B
