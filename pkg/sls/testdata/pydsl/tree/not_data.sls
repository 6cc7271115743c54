#!pydsl
state("a").test.nop(x=object())
