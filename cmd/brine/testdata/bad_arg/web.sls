include:
  - ok
site:
  file.managed:
    - name: /x
    - sorce: salt://x
