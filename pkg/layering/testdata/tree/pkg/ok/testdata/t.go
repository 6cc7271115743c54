package t

import _ "example.com/fixture/states"
