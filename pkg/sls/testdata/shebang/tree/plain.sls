#!yaml
literal:
  cmd.run:
    - name: "echo {{ not jinja }}"
