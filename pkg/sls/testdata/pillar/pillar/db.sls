include:
  - .dbdefaults
  - extras: {key: db_extras}
db: {port: 5432, name: main}
