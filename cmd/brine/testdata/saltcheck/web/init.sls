{% set root = pillar['root'] %}
index:
  file.managed:
    - name: {{ root }}/www/index.html
    - makedirs: True
    - mode: '0640'
    - contents: hello from {{ grains['id'] }}
