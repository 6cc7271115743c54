{#- The api service: built from source into an image FROM scratch and run
    as two replicas on its own network, plus an admin instance of the same
    release. Ship a release by changing api:release (or any setting) in the
    pillar and re-applying: only the containers whose configuration changed
    are replaced, one at a time. -#}
{%- set api = pillar.get('api', {}) %}
{%- set prefix = api.get('prefix', 'brine-example') %}
{%- set build = api.get('build_dir', '/var/lib/brine-example/api') %}
{%- set release = api.get('release', '1.0.0') %}
{%- set image = prefix ~ '-api:' ~ release %}

# The build context lives outside the state tree: the binary is compiled
# into it, next to the Dockerfile.
api-build-dir:
  file.directory:
    - name: {{ build }}/src
    - makedirs: True

api-source:
  file.managed:
    - name: {{ build }}/src/main.go
    - source: brine://api/src/main.go
    - require:
      - file: api-build-dir

api-dockerfile:
  file.managed:
    - name: {{ build }}/Dockerfile
    - source: brine://api/Dockerfile
    - require:
      - file: api-build-dir

api-binary:
  cmd.run:
    - name: CGO_ENABLED=0 go build -trimpath -ldflags=-s -o ../api main.go
    - cwd: {{ build }}/src
    - unless: test -x {{ build }}/api && test {{ build }}/api -nt {{ build }}/src/main.go
    - require:
      - file: api-source

api-image:
  docker_image.present:
    - name: {{ prefix }}-api
    - tag: "{{ release }}"
    - build: {{ build }}
    - buildargs:
        RELEASE: "{{ release }}"
    - require:
      - cmd: api-binary
      - file: api-dockerfile

api-network:
  docker_network.present:
    - name: {{ prefix }}-net
    - subnet: {{ api.get('subnet', '10.231.0.0/24') }}
    - labels:
        app: api

api:
  docker_container.running:
    - name: {{ prefix }}-api
    - image: {{ image }}
    - replicas: {{ api.get('replicas', 2) }}
    - environment:
        GREETING: {{ api.get('greeting', 'hello') }}
        LOG_LEVEL: {{ api.get('log_level', 'info') }}
    - labels:
        app: api
        release: "{{ release }}"
    - publish:
      - 127.0.0.1::8080
    - networks:
      - {{ prefix }}-net:
          aliases: [api]
    - restart_policy: unless-stopped
    - memory: 64m
    - healthcheck:
        test: [/api, -check]
        interval: 10s
    - require:
      - docker_image: api-image
      - docker_network: api-network

api-admin:
  docker_container.running:
    - name: {{ prefix }}-api-admin
    - image: {{ image }}
    - command: -addr :9090
    - environment:
        GREETING: admin
    - labels:
        app: api-admin
    - networks:
      - {{ prefix }}-net:
          aliases: [api-admin]
    - restart_policy: unless-stopped
    - require:
      - docker_image: api-image
      - docker_network: api-network
