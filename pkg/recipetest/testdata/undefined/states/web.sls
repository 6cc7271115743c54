motd:
  file.managed:
    - name: /tmp/motd
{% if grains['role'] == 'web' %}
    - contents: {{ grains.site }}
{% else %}
    - contents: none
{% endif %}
