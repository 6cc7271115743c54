# Docker hosts (those with the docker_engine grain) run the api service.
base:
  'docker_engine:version:*':
    - match: grain
    - api
