mesh:
  ovs.mesh:
    - peers: 'G@role:docker'
    - peer_ip: underlay_ip
