#!pydsl
__pydsl__.set(ordered=True)
extend(state("a").pkg.installed())
