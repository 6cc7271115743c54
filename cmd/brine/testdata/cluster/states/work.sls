# Each run appends one line: a job run twice shows two.
ran:
  cmd.run:
    - name: mkdir -p {{ grains['root'] }} && echo highstate {{ grains['id'] }} >> {{ grains['root'] }}/runs
# Long enough for the test to kill a master while every minion runs it.
slow:
  cmd.run:
    - name: sleep 6
    - require:
      - cmd: ran
done:
  file.managed:
    - name: {{ grains['root'] }}/done
    - contents: done
    - require:
      - cmd: slow
