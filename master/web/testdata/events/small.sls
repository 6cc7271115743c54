# The small state the events benchmark applies on each of its minions.
{% for i in range(3) %}
events-file-{{ i }}:
  file.managed:
    - name: {{ grains['events_root'] }}/f{{ i }}
    - contents: "{{ grains['id'] }} file {{ i }}"
    - makedirs: True
{% endfor %}
