all:
  cmd.run:
    - name: true
    - require:
      - pkg: nginx
      - sls: web
      - plain_id
    - watch: {file: conf}
    - onchanges: single
    - onfail_any:
      - cmd: a
      - cmd: b
    - onfail_all: [{cmd: c}]
    - require_in:
      - service: nginx
    - watch_in: []
    - prereq: {pkg: x, file: y}
    - listen: [{service: z}]
    - use: [{file: tmpl}]
    - onchanges_in: [{cmd: d}]
    - require_any: [{cmd: e}]
    - watch_any: [{cmd: f}]
    - onchanges_any: [{cmd: g}]
    - listen_in: [{cmd: h}]
    - use_in: [{cmd: i}]
    - prereq_in: [{cmd: j}]
    - onfail_in: [{cmd: k}]
    - require_any_in: not a requisite
    - unless: test -f /x
bad:
  cmd.run:
    - require:
      - pkg: [a, b]
      - [nested]
