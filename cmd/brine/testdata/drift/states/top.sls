base:
  'drift-files':
    - files
  'drift-ovs':
    - ovs
  'drift-docker':
    - docker
  'drift-bench':
    - bench
