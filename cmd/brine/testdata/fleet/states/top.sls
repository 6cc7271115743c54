base:
  '*':
    - motd
  'role:web':
    - match: grain
    - web
  'role:docker':
    - match: grain
    - mesh
