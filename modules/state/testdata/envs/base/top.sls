base:
  '*':
    - motd
dev:
  'web*':
    - app
