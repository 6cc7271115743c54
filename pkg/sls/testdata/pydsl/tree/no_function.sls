#!pydsl
state("a").test.nop()
state("b").test
