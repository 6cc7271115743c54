# The release the api service runs, and its settings. Ship a new release
# by changing `release` (or `greeting`, `replicas`...) and re-applying.
api:
  prefix: brine-example
  build_dir: /var/lib/brine-example/api
  release: 1.0.0
  greeting: hello
  replicas: 2
