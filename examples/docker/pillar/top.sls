base:
  '*':
    - api
