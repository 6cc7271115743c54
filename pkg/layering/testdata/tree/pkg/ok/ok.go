package ok

import (
	_ "example.com/fixture/pkg/out"
	_ "example.com/fixture/statesx"
	_ "example.org/other/states"
)
