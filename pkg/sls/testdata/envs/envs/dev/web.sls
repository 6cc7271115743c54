include:
  - common
  - base: common
  - prod:app
web_{{ saltenv }}:
  test.nop:
    - tier: {{ pillar.get('tier', 'none') }}
