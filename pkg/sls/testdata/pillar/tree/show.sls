show:
  test.show_notification:
    - text: "port {{ pillar['web']['port'] }} {{ salt['pillar.get']('ntp:servers:0') }} {{ salt['pillar.get']('nope', 'dflt') }}"
