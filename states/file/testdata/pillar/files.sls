app:
  motd: |
    Welcome to {{ grains['id'] }}
  lines:
    - one
    - two
  plain: no newline
