motd: hello
