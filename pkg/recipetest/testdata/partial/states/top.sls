base:
  '*':
    - app
  'role:web':
    - match: grain
    - web
