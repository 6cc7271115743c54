#!pydsl
state("a").cmd.run("x")
state("a")()
