# A directory of the state tree copied to the minion with its modes (issue 15: file.recurse
# served by the master's file server).
{{ grains.root }}/site:
  file.recurse:
    - source: salt://site
    - file_mode: keep
    - dir_mode: '0750'
    - template: jinja
    - clean: True
