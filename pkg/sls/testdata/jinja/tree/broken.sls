a:
  test.nop: []
{% if grains['os'] == 'Debian' %}
b:
  test.nop: []
{% endfi %}
