{#- A web server: the lighttpd package, its configuration and a start page,
    and the service, restarted whenever the configuration changes.
    Settings come from the `webserver` pillar:
      webserver:
        port: 8080
        docroot: /var/www/html
        title: Hello from brine
    Apply with: brine call --local state.sls webserver (as root; needs the
    Debian mirror). -#}
{% set web = pillar.get('webserver', {}) %}
{% set port = web.get('port', 80) %}
{% set docroot = web.get('docroot', '/var/www/html') %}

webserver-package:
  pkg.installed:
    - name: lighttpd
    - refresh: True

webserver-config:
  file.managed:
    - name: /etc/lighttpd/lighttpd.conf
    - source: salt://webserver/files/lighttpd.conf.j2
    - template: jinja
    - mode: 644
    - context:
        port: {{ port }}
        docroot: {{ docroot }}
    - require:
      - pkg: webserver-package

webserver-index:
  file.managed:
    - name: {{ docroot }}/index.html
    - source: salt://webserver/files/index.html.j2
    - template: jinja
    - makedirs: True
    - context:
        title: {{ web.get('title', 'Hello from brine') }}
    - require:
      - pkg: webserver-package

webserver-service:
  service.running:
    - name: lighttpd
    - enable: True
    - watch:
      - file: webserver-config
    - require:
      - pkg: webserver-package
