web:
  port: 8081
secret: only-for-web1
