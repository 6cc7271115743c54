include:
  - ok
site:
  file.managed:
    - name: /x
   - contents: bad indent
