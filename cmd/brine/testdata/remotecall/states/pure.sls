# Only functions the master answers from what it holds.
pure:
  file.managed:
    - name: {{ grains['root'] }}/pure
    - contents: "{{ salt['grains.get']('role') }} {{ salt['mine.get']('*', 'role')['m1'] }} {{ salt['test.echo']('echoed') }} {{ salt['pillar.get']('greeting') }}"
