#!pydsl
raise ValueError("boom")
