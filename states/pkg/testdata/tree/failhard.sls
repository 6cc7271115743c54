no-such-package:
  pkg.installed:
    - name: brine-test-nope
    - failhard: True

lib:
  pkg.installed:
    - name: brine-test-lib
