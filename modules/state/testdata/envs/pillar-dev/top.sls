dev:
  '*':
    - tier
