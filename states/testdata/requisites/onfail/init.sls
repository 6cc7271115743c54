ok:
  test.succeed_without_changes
failed:
  test.fail_with_changes
on_ok:
  test.succeed_with_changes:
    - onfail:
      - ok
on_failed:
  test.succeed_with_changes:
    - onfail:
      - failed
on_one_failed:
  test.succeed_with_changes:
    - onfail:
      - ok
      - failed
on_all_one_failed:
  test.succeed_with_changes:
    - onfail_all:
      - ok
      - failed
on_any_failed:
  test.succeed_with_changes:
    - onfail_any:
      - failed
