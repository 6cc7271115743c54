package out

import _ "example.com/fixture/states"
