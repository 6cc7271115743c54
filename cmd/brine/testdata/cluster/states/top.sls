base:
  '*':
    - work
