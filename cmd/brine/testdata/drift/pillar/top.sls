base:
  'drift-files':
    - drift
