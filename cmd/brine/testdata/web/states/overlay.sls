# The overlay of examples/overlay without its containers, one bridge per
# host (the hosts of the browser test share one Open vSwitch); each host
# takes its `settle` grain in seconds, so the returns arrive one by one, and
# web3 has a full disk.
{% set bridge = 'brw-' ~ grains['id'] %}

{{ bridge }}:
  ovs_bridge.present:
    - datapath_type: netdev

overlay:
  ovs.mesh:
    - bridge: {{ bridge }}
    - type: vxlan
    - key: 7301
    - peers: 'G@role:docker'
    - peer_ip: underlay_ip
    - require:
      - ovs_bridge: {{ bridge }}

settle:
  cmd.run:
    - name: sleep {{ grains['settle'] }}

{% if grains['id'] == 'web3' %}
disk-check:
  test.fail_without_changes:
    - comment: "/srv is 100% full: remove old releases"
{% endif %}
