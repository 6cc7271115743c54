# Leaves the pid of the process that ran the command in a file under the
# minion's root.
marker:
  file.managed:
    - name: {{ grains['root'] }}/marker-state
    - makedirs: True
    - contents: "{{ salt['cmd.run']('mkdir -p ' ~ grains['root'] ~ ' && echo $PPID >> ' ~ grains['root'] ~ '/ran') }}"
