prod:
  '*':
    - app
base:
  '*':
    - not_prod_section
