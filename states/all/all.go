// Package all links every state module into the binary.
package all

import (
	_ "github.com/brinecm/brine/states/archive"          // archive.extracted
	_ "github.com/brinecm/brine/states/cmd"              // cmd.*
	_ "github.com/brinecm/brine/states/cron"             // cron.*
	_ "github.com/brinecm/brine/states/docker_container" // docker_container.*
	_ "github.com/brinecm/brine/states/docker_image"     // docker_image.*
	_ "github.com/brinecm/brine/states/docker_network"   // docker_network.*
	_ "github.com/brinecm/brine/states/docker_volume"    // docker_volume.*
	_ "github.com/brinecm/brine/states/file"             // file.*
	_ "github.com/brinecm/brine/states/gem"              // gem.*
	_ "github.com/brinecm/brine/states/git"              // git.config_*
	_ "github.com/brinecm/brine/states/group"            // group.*
	_ "github.com/brinecm/brine/states/locale"           // locale.*
	_ "github.com/brinecm/brine/states/module"           // module.run
	_ "github.com/brinecm/brine/states/net"              // net.*
	_ "github.com/brinecm/brine/states/npm"              // npm.*
	_ "github.com/brinecm/brine/states/ovs"              // ovs.mesh
	_ "github.com/brinecm/brine/states/ovs_bridge"       // ovs_bridge.*
	_ "github.com/brinecm/brine/states/ovs_port"         // ovs_port.*
	_ "github.com/brinecm/brine/states/pip"              // pip.*
	_ "github.com/brinecm/brine/states/pkg"              // pkg.*
	_ "github.com/brinecm/brine/states/pkgrepo"          // pkgrepo.*
	_ "github.com/brinecm/brine/states/service"          // service.*
	_ "github.com/brinecm/brine/states/ssh_auth"         // ssh_auth.*
	_ "github.com/brinecm/brine/states/ssh_known_hosts"  // ssh_known_hosts.*
	_ "github.com/brinecm/brine/states/sysctl"           // sysctl.present
	_ "github.com/brinecm/brine/states/test"             // test.*
	_ "github.com/brinecm/brine/states/timezone"         // timezone.system
	_ "github.com/brinecm/brine/states/user"             // user.*
)
