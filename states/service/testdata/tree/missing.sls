# A service without an init script fails; the run goes on.
no-such-service:
  service.running:
    - name: brine-test-nope

after:
  test.succeed_with_changes: []
