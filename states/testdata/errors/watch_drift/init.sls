A:
  test.succeed_without_changes:
    - watch_drift: sometimes
