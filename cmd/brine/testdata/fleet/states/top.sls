base:
  '*':
    - motd
  'role:web':
    - match: grain
    - web
