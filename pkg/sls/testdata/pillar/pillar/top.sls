base:
  '*':
    - common
  'web*':
    - web
  'db*':
    - db
    - users
  'os:Debian':
    - match: grain
    - debian
  'broken':
    - missing
    - bad
  'other':
    - ignore_missing: true
    - missing_ok
