base:
  '*':
    - motd
  'role:web':
    - match: grain
    - app
