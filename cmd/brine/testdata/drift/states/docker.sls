web:
  docker_container.running:
    - name: {{ grains['container'] }}
    - image: {{ grains['image'] }}
