slow:
  cmd.run:
    - name: sleep 0.4
