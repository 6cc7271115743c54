vars:
  test.show_notification:
    - text: "sls={{ sls }} slspath={{ slspath }} tpldir={{ tpldir }} sls_path={{ sls_path }} saltenv={{ saltenv }} env={{ env }}"
    - grain: {{ salt['grains.get']('mem_total', 0) }}
    - missing: {{ salt['grains.get']('nope:deeper', 'dflt') }}
    - item: {{ salt['grains.item']('os')['os'] }}
    - config: {{ salt['config.get']('file_client') }}
    - called: {{ salt['test.echo']('hi') }}
    - opts: {{ opts['file_client'] }}
