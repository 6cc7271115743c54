# Watched with drift: {watch: True}; handsoff is left to people.
motd:
  file.managed:
    - name: {{ grains['root'] }}/motd
    - makedirs: True
    - contents: "{{ grains['id'] }} keeps this file\n"

conf:
  file.managed:
    - name: {{ grains['root'] }}/app.conf
    - makedirs: True
    - contents: "port=80\n"
    - mode: '0644'
    - require:
      - file: motd

flapper:
  file.managed:
    - name: {{ grains['root'] }}/flapper
    - makedirs: True
    - contents: "wanted\n"

handsoff:
  file.managed:
    - name: {{ grains['root'] }}/handsoff
    - makedirs: True
    - contents: "initial\n"
    - watch_drift: False
