package out_test

import (
	_ "testing"

	_ "example.com/fixture/master"
)
