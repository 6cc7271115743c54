include:
  - ok
site:
  file.manged:
    - name: /x
