php:
  pkg.installed: []
