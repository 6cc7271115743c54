#!pydsl|stateconf -ps
state("a").test.nop()
