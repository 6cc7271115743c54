two_funcs:
  file.managed:
    - name: /a
  file.absent:
    - name: /a

legacy_two:
  file:
    - managed
    - absent

legacy_none:
  file:
    - name: /x

bad_key:
  file.managed.more: []

not_a_dict: [a, b]

bad_short: nodot

multi_key_item:
  file.managed:
    - name: /a
      source: salt://a

scalar_args:
  file.managed: /etc/x

bad_name:
  file.managed:
    - name: [a]

good:
  test.nop: []

# Salt's badlist1 (test_issues_7905_and_8174_sls_syntax_error): "-name"
# without a space makes the arguments a mapping, which Salt refuses.
badlist1:
  cmd.run:
    -name: echo foo
    -foo:
      - bar

map_args:
  file.managed:
    name: /etc/issue
    contents: hello
