bridge:
  ovs_bridge.present:
    - name: {{ grains['bridge'] }}
    - datapath_type: netdev

port:
  ovs_port.present:
    - name: {{ grains['port'] }}
    - bridge: {{ grains['bridge'] }}
    - type: internal
    - require:
      - ovs_bridge: bridge
