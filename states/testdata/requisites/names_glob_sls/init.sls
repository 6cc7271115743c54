pkgs:
  test.succeed_with_changes:
    - names:
      - web-one
      - web-two
      - db-one
after_web:
  test.succeed_without_changes:
    - require:
      - test: web-*
after_sls:
  test.succeed_without_changes:
    - require:
      - sls: init
