# a state of dev reads salt:// from dev unless the URL names its saltenv
{{ pillar.root }}/app.conf:
  file.managed:
    - source: salt://app.conf
    - template: jinja
{{ pillar.root }}/app-from-base.conf:
  file.managed:
    - source: salt://app.conf?saltenv=base
