base:
  '*':
    - whoami
