#!pydsl

state("/tmp/testfile").file("touch")
