# The built-in checks of docs/testing.md on a real container of the image.
hello_exists:
  module_and_function: file.file_exists
  args: [/etc/hello]
  assertion: assertTrue

hello_mode:
  module_and_function: file.get_mode
  args: [/etc/hello]
  assertion: assertEqual
  expected_return: '0640'

hello_names_minion_and_pillar:
  module_and_function: file.contains
  args: [/etc/hello, 'hello from box1 in the lab']
  assertion: assertTrue

dpkg_installed:
  module_and_function: pkg.version
  args: [dpkg]
  assertion: assertNotEmpty

root_shell:
  module_and_function: user.info
  args: [root]
  assertion: assertEqual
  assertion_section: shell
  expected_return: /bin/bash

root_group:
  module_and_function: group.info
  args: [root]
  assertion: assertEqual
  assertion_section: gid
  expected_return: 0

debian_release:
  module_and_function: cmd.run
  args: ['cat /etc/debian_version']
  assertion: assertNotEmpty

nothing_listens:
  module_and_function: network.listeners
  assertion: assertEmpty

no_ssh:
  module_and_function: network.listening
  args: [22]
  assertion: assertFalse
