base:
  'web1':
    - web
