first:
  test.nop:
    - order: first
last:
  test.nop:
    - order: last
num:
  test.nop:
    - order: 10
    - failhard: True
neg:
  test.nop:
    - order: -1
    - failhard: no
bad_order:
  test.nop:
    - order: soon
bad_order_list:
  test.nop:
    - order: [1]
bad_failhard:
  test.nop:
    - failhard: maybe
