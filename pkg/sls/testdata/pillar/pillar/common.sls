ntp: {servers: [a.ntp, b.ntp]}
users: {root: {shell: /bin/bash}}
