replicas: 2
