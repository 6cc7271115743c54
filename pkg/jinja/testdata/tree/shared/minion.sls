{%- from 'web/map.jinja' import nginx with context -%}
{%- import_yaml 'x/defaults.yaml' as d -%}
{%- macro line(k, v) %}{{ k }}={{ v }};{% endmacro -%}
{{ line('id', grains['id']) }}{{ line('os', grains.os_family) }}{{ line('conf', nginx.conf) }}{{ line('port', nginx.port) }}{{ line('user', d.user) }}{{ line('salt', salt['who.ami']()) }}{{ line('opts', opts.tag) }}
{% for u in pillar.users %}{{ u | upper }},{% endfor %}
{% include 'shared/part.sls' %}
