{% set port = 8080 if grains['os'] == 'Debian' else 80 %}
web: {port: {{ port }}, id: {{ grains.get('os') }}}
ntp: {servers: [web.ntp]}
