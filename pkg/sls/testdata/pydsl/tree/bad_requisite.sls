#!pydsl
state("a").cmd.run("x").require(42)
