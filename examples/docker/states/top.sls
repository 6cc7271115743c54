# Docker hosts (those with the docker grain) run the api service.
base:
  'docker:version:*':
    - match: grain
    - api
