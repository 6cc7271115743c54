skip_unless:
  test.succeed_with_changes:
    - unless: "true"
run_unless:
  test.succeed_with_changes:
    - unless:
      - "true"
      - "false"
skip_onlyif:
  test.succeed_with_changes:
    - onlyif: "false"
run_onlyif:
  test.succeed_with_changes:
    - onlyif: "true"
skip_creates:
  test.succeed_with_changes:
    - creates: /
run_creates:
  test.succeed_with_changes:
    - creates:
      - /
      - /nonexistent/brine
check_fails:
  test.succeed_with_changes:
    - check_cmd: "false"
retried:
  test.fail_without_changes:
    - retry:
        attempts: 2
        interval: 0
unwatched:
  test.succeed_with_changes:
    - watch_drift: False
