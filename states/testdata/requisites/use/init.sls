base_state:
  test.configurable_test_state:
    - changes: True
    - result: True
    - comment: copied comment
user:
  test.configurable_test_state:
    - changes: False
    - use:
      - base_state
