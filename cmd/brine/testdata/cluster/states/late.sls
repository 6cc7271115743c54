late:
  cmd.run:
    - name: mkdir -p {{ grains['root'] }} && echo late >> {{ grains['root'] }}/late
