#!pydsl
state("a").pkg.installed()
state("a").pkg.removed()
