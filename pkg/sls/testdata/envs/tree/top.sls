base:
  '*':
    - common
  'db*':
    - match: glob
    - prod: extra
dev:
  'web*':
    - web
# Salt's top file includes are not read
include:
  - other
