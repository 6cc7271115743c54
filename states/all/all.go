// Package all links every state module into the binary.
package all

import (
	_ "github.com/brinecm/brine/states/cmd"  // cmd.*
	_ "github.com/brinecm/brine/states/file" // file.*
	_ "github.com/brinecm/brine/states/test" // test.*
)
