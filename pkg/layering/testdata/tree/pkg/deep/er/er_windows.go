//go:build windows

package er

import _ "example.com/fixture/minion"
