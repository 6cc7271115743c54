# Everything the demo writes goes under this root. Each demo minion sets its
# own demo_root grain to a temporary directory, so the host is never touched.
root: {{ salt['grains.get']('demo_root', '/tmp/brine-demo') }}
app:
  name: hello
  port: 8080
  workers: 4
