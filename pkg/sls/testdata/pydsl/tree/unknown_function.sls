#!pydsl

state("a").test.succeed_without_changes()
state("b").file.manged(name="/x")
