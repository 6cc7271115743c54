A:
  test.succeed_with_changes
B:
  test.succeed_without_changes
C:
  test.succeed_without_changes:
    - require:
      - A
      - test: B
