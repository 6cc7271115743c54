base:
  '*':
    - common
dev:
  'web*':
    - web
