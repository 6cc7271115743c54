package er

import _ "example.com/fixture/cmd/tool"
