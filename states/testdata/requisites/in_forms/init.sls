A:
  test.succeed_with_changes:
    - require_in:
      - C
    - watch_in:
      - D
    - onchanges_in:
      - E
C:
  test.succeed_without_changes
D:
  test.succeed_without_changes
E:
  test.succeed_with_changes
F:
  test.fail_without_changes:
    - onfail_in:
      - G
G:
  test.succeed_with_changes
