# A run with two broken package states between two good ones: the broken
# ones fail with apt's reason, the rest of the run goes on.
no-such-package:
  pkg.installed:
    - name: brine-test-nope

no-such-version:
  pkg.installed:
    - name: brine-test-lib
    - version: 9.9-9

lib:
  pkg.installed:
    - name: brine-test-lib

app:
  pkg.latest:
    - name: brine-test-app
    - require:
      - pkg: lib
