include: common
admin:
  user.present: []
