{% include 'x/loop.sls' %}
