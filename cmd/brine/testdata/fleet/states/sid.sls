# state.sls_id through the master: only "second" and what it requires run.
{% for id, req in [('first', None), ('second', 'first'), ('third', None)] %}
{{ id }}:
  file.managed:
    - name: {{ grains.root }}/sid/{{ id }}
    - makedirs: True
    - contents: {{ id }}
{%- if req %}
    - require:
      - file: {{ req }}
{%- endif %}
{% endfor %}
