# grains['files'] managed files in 10 directories, for the drift benchmarks.
{%- for i in range(grains['files'] | int) %}
f{{ i }}:
  file.managed:
    - name: {{ grains['root'] }}/d{{ i % 10 }}/f{{ i }}
    - makedirs: True
    - contents: "file {{ i }}\n"
{%- endfor %}
