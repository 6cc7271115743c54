# The docker hosts as the master's mine knows them.
peers:
  file.managed:
    - name: {{ grains['root'] }}/peers
    - makedirs: True
    - contents: |
{%- for id, ip in salt['mine.get']('G@role:docker', 'underlay_ip', tgt_type='compound') | dictsort %}
        {{ id }} {{ ip }}
{%- endfor %}
