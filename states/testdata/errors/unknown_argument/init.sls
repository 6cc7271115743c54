A:
  test.configurable_test_state:
    - name: a
    - chnages: True
    - result: maybe
