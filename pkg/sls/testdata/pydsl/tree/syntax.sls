#!pydsl
state("a").test.succeed_without_changes(
