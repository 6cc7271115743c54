# Every docker host keeps one VXLAN tunnel to each of the others, on its own
# bridge (the hosts of this test share one Open vSwitch).
mesh:
  ovs.mesh:
    - bridge: brm-{{ grains['id'] }}
    - peers: 'G@role:docker'
    - peer_ip: underlay_ip
    - key: 7001
    - create_bridge: True
    - datapath_type: netdev
