failing:
  file.managed:
    - name: {{ grains['root'] }}/failing
    - contents: "{{ salt['cmd.run']('true', shell='/nonexistent/sh') }}"
