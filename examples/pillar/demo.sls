# Everything the demo writes goes under this root; `make run` points it at
# a temporary directory so the host is never touched.
root: /tmp/brine-demo
app:
  name: hello
  port: 8080
  workers: 4
