# A common pattern: look the minion's own fqdn up. The fqdn is a grain the
# minion reports, so whoever runs this runs what the minion says.
hosts-entry:
  file.managed:
    - name: {{ grains['root'] }}/hosts-entry
    - makedirs: True
    - contents: "{{ salt['cmd.run']('getent hosts ' ~ grains['fqdn']) | replace('\n', ' ') }}"
