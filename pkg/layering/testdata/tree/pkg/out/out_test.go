package out

import _ "example.com/fixture/modules/all"
