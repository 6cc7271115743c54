listener:
  test.succeed_without_changes:
    - listen:
      - changed
changed:
  test.succeed_with_changes
quiet:
  test.succeed_without_changes:
    - listen:
      - unchanged
unchanged:
  test.succeed_without_changes
last:
  test.nop
