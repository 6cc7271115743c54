include:
  - common.users
base_pkgs:
  pkg.installed:
    - names: [vim]
