motd:
  file.managed:
    - name: /etc/motd
    - contents: hello

{% if grains['os'] == 'Solaris' %}
solaris-only:
  test.nop: []
{% endif %}
