d_default:
  test.nop
c_last:
  test.nop:
    - order: last
b_ten:
  test.nop:
    - order: 10
a_first:
  test.nop:
    - order: first
e_requires_last:
  test.nop:
    - require:
      - c_last
f_default:
  test.nop
