{% set root = pillar['root'] %}
index:
  file.managed:
    - name: {{ root }}/www/index.html
    - makedirs: True
    - contents: hello from {{ grains['id'] }}
