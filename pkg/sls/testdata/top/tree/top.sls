base:
  '*':
    - common
  'web*':
    - match: glob
    - glob
    - common
  'web1,db1':
    - match: list
    - list
  'os:Debian':
    - match: grain
    - grain
  'os_family:Red.*':
    - match: grain_pcre
    - grain_pcre
  'web\d+':
    - match: pcre
    - pcre
  'tier:prod':
    - match: pillar
    - pillar
  '10.0.0.0/24':
    - match: ipcidr
    - ipcidr
  'G@roles:cache and not db*':
    - compound
  webs:
    - match: nodegroup
    - nodegroup
  mixed:
    - match: nodegroup
    - nodegroup_list
  'db1': single_string
  'tier:pr.*':
    - match: pillar_pcre
    - pillar_pcre
{% if grains.get('os') == 'Debian' %}
  'web1':
    - jinja_debian
{% endif %}
  'bad[':
    - match: nosuchkind
    - never
dev:
  '*':
    - dev_only
