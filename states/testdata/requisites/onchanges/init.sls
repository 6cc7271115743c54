changed:
  test.succeed_with_changes
unchanged:
  test.succeed_without_changes
failed:
  test.fail_without_changes
on_changed:
  test.succeed_with_changes:
    - onchanges:
      - changed
on_unchanged:
  test.succeed_with_changes:
    - onchanges:
      - unchanged
on_one_of_two:
  test.succeed_with_changes:
    - onchanges:
      - unchanged
      - changed
on_failed:
  test.succeed_with_changes:
    - onchanges:
      - failed
on_any:
  test.succeed_with_changes:
    - onchanges_any:
      - unchanged
      - changed
