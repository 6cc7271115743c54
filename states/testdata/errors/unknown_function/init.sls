A:
  test.succeed_with_chnages: []
B:
  nosuchmodule.run: []
