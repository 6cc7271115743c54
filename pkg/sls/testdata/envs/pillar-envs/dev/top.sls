dev:
  'web*':
    - tier
