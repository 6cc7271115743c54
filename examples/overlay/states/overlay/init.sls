# Docker hosts joined by one layer-2 overlay: an Open vSwitch bridge on
# every host, a VXLAN tunnel to every other docker host (kept right by the
# master as hosts are accepted or leave), and the web containers plugged
# into the bridge with an address of their own.
{% set host = grains['overlay_index'] | default(1) | int %}

br-int:
  ovs_bridge.present:
    - datapath_type: netdev

overlay:
  ovs.mesh:
    - bridge: br-int
    - type: vxlan
    - key: 5001
    - peers: 'G@role:docker'
    - peer_ip: underlay_ip
    - require:
      - ovs_bridge: br-int

web:
  docker_container.running:
    - name: overlay-web
    - image: {{ pillar.get('overlay_image', 'brine-example-api:1.0.0') }}
    - ovs_bridge: br-int
    - ip: 10.88.0.{{ 10 + host }}/24
    - require:
      - ovs: overlay
