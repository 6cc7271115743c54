#!jinja | yaml
rendered:
  cmd.run:
    - name: "echo {{ grains.os }}"
