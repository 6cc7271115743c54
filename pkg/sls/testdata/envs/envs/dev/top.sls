# base's top file has a dev section: this one is used only with saltenv=dev
dev:
  '*':
    - devonly
prod:
  '*':
    - not_dev_section
