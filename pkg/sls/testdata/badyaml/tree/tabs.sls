a:
	b: c
