web:
  port: 8081
