# The process that runs the command is the shell's parent: its pid lands in
# the compiled contents.
whoami:
  file.managed:
    - name: {{ grains['root'] }}/whoami
    - makedirs: True
    - contents: "{{ salt['cmd.run']('echo $PPID') }}"
