base:
  '*':
    - site
  'web1':
    - web1
