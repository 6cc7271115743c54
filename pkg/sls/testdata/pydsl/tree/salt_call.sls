#!pydsl

state("a").test.succeed_without_changes()
__salt__["cmd.run"]("ls")
