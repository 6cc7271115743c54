slow:
  cmd.run:
    - name: sleep 30
