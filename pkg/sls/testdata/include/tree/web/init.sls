include:
  - .nginx
  - common
  - common.users
  - base: common
  - sls: web.php
  - base:web.php
  - dev: other
  - sls: [x]

web_root:
  file.directory:
    - name: /srv/www
