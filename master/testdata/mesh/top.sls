base:
  'role:docker':
    - match: grain
    - mesh
