A:
  test.succeed_without_changes
B:
  test.succeed_with_changes:
    - onchanges:
      - A
C:
  test.succeed_without_changes:
    - require:
      - B
