packages:
  pkg.installed:
    - names:
      - vim
      - curl
      - vim
      - git:
        - version: '2.40'
        - require:
          - file: gitconfig
      - htop: {fromrepo: backports}
    - refresh: true
    - require:
      - pkg: base

dirs:
  file.directory:
    - name: ignored
    - names: [/srv/a, /srv/b]
    - mode: 755

bad:
  file.directory:
    - names: /srv/c
