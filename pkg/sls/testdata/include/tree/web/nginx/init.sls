include:
  - .conf
  - ..php
  - ...common
  - web

nginx:
  pkg.installed: []
