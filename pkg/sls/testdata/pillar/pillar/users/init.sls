users: {postgres: {shell: /bin/false}}
