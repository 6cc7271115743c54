// Package all links every execution module into the binary.
package all

import (
	_ "github.com/brinecm/brine/modules/cmd"       // cmd.*
	_ "github.com/brinecm/brine/modules/config"    // config.get
	_ "github.com/brinecm/brine/modules/cp"        // cp.list_master, cp.list_master_dirs
	_ "github.com/brinecm/brine/modules/defaults"  // defaults.*
	_ "github.com/brinecm/brine/modules/docker"    // docker.*
	_ "github.com/brinecm/brine/modules/file"      // file.*
	_ "github.com/brinecm/brine/modules/grains"    // grains.*
	_ "github.com/brinecm/brine/modules/group"     // group.*
	_ "github.com/brinecm/brine/modules/log"       // log.*
	_ "github.com/brinecm/brine/modules/mine"      // mine.*
	_ "github.com/brinecm/brine/modules/net"       // net.*
	_ "github.com/brinecm/brine/modules/network"   // network.*
	_ "github.com/brinecm/brine/modules/ovs"       // ovs.*
	_ "github.com/brinecm/brine/modules/pkg"       // pkg.*
	_ "github.com/brinecm/brine/modules/saltcheck" // saltcheck.*
	_ "github.com/brinecm/brine/modules/schedule"  // schedule.*
	_ "github.com/brinecm/brine/modules/service"   // service.*
	_ "github.com/brinecm/brine/modules/slsutil"   // slsutil.*
	_ "github.com/brinecm/brine/modules/state"     // state.*
	_ "github.com/brinecm/brine/modules/sys"       // sys.*
	_ "github.com/brinecm/brine/modules/test"      // test.*
	_ "github.com/brinecm/brine/modules/user"      // user.*
)
