root: {{ salt['grains.get']('root') }}
greeting: hello
