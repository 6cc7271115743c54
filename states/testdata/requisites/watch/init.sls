changed:
  test.succeed_with_changes
unchanged:
  test.succeed_without_changes
failed:
  test.fail_without_changes
watches_changed:
  test.succeed_without_changes:
    - watch:
      - changed
watches_changed_itself_changes:
  test.succeed_with_changes:
    - watch:
      - changed
watches_unchanged:
  test.succeed_without_changes:
    - watch:
      - unchanged
watches_failed:
  test.succeed_without_changes:
    - watch:
      - failed
watch_any_one_failed:
  test.succeed_without_changes:
    - watch_any:
      - failed
      - changed
