base:
  '*':
    - common
  'web1':
    - web1
