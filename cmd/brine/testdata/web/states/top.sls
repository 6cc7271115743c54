base:
  'role:docker':
    - match: grain
    - overlay
