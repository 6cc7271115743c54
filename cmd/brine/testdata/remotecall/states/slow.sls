# The minion answers long after the master stopped waiting.
slow:
  file.managed:
    - name: {{ grains['root'] }}/slow
    - contents: "{{ salt['cmd.run']('sleep 60') }}"
