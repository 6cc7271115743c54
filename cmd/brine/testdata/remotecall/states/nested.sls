nested:
  file.managed:
    - name: {{ grains['root'] }}/nested
    - contents: "{{ salt['state.apply']('whoami') }}"
