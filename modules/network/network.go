// Package network provides the serverspec-style port checks of the network
// execution module: network.listening says whether something listens on a
// port (TCP or UDP, IPv4 or IPv6, optionally on one address), and
// network.listeners lists what listens, both read from /proc/net of the
// minion's network namespace.
package network

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/brinecm/brine/modules"
)

type listeningArgs struct {
	Port    int    `arg:"port,required"`
	Proto   string `arg:"proto"`
	Address string `arg:"address"`
}

type listenersArgs struct {
	Proto string `arg:"proto"`
}

func init() {
	modules.Register("network.listening", modules.Func[listeningArgs]{
		ReadOnly: true,
		Doc: "Return True when a socket listens on port (proto tcp, the default, or udp; IPv4 or IPv6). " +
			"address=IP narrows it to sockets bound to that address or to every address (0.0.0.0, ::). " +
			"For saltcheck: module_and_function: network.listening, args: [80], assertion: assertTrue.",
		Params: []string{"port"},
		Call: func(_ context.Context, _ *modules.Runtime, a *listeningArgs) (any, error) {
			return listening("/proc", a.Port, a.Proto, a.Address)
		},
	})
	modules.Register("network.listeners", modules.Func[listenersArgs]{
		ReadOnly: true,
		Doc:      "List the listening sockets as 'tcp 0.0.0.0:22', 'tcp6 [::]:80', sorted; proto=tcp or udp keeps one protocol.",
		Call: func(_ context.Context, _ *modules.Runtime, a *listenersArgs) (any, error) {
			protos, err := protocols(a.Proto)
			if err != nil {
				return nil, err
			}
			var out []any
			var names []string
			for _, p := range protos {
				socks, err := readSockets("/proc", p)
				if err != nil {
					return nil, err
				}
				for _, s := range socks {
					names = append(names, p+" "+netip.AddrPortFrom(s.addr, s.port).String())
				}
			}
			slices.Sort(names)
			for _, n := range slices.Compact(names) {
				out = append(out, n)
			}
			if out == nil {
				out = []any{}
			}
			return out, nil
		},
	})
}

// socket is one listening socket of /proc/net.
type socket struct {
	addr netip.Addr
	port uint16
}

// protocols returns the /proc/net tables of proto ("" is tcp).
func protocols(proto string) ([]string, error) {
	switch strings.ToLower(proto) {
	case "", "tcp":
		return []string{"tcp", "tcp6"}, nil
	case "udp":
		return []string{"udp", "udp6"}, nil
	}
	return nil, fmt.Errorf("proto %q: give tcp or udp", proto)
}

// listening reports whether a socket of proto listens on port (and address).
func listening(proc string, port int, proto, address string) (bool, error) {
	if port < 1 || port > 65535 {
		return false, fmt.Errorf("port %d: give a port from 1 to 65535", port)
	}
	protos, err := protocols(proto)
	if err != nil {
		return false, err
	}
	var want netip.Addr
	if address != "" {
		if want, err = netip.ParseAddr(address); err != nil {
			return false, fmt.Errorf("address %q: give an IP address such as 127.0.0.1 or ::1", address)
		}
		want = want.Unmap()
	}
	for _, p := range protos {
		socks, err := readSockets(proc, p)
		if err != nil {
			return false, err
		}
		for _, s := range socks {
			if int(s.port) != port {
				continue
			}
			if !want.IsValid() || s.addr.IsUnspecified() || s.addr.Unmap() == want {
				return true, nil
			}
		}
	}
	return false, nil
}

// readSockets reads the listening sockets of /proc/net/<table>: TCP in
// state LISTEN (0A), UDP sockets bound and not connected (07). A table
// the kernel does not have (no IPv6) has no socket.
func readSockets(proc, table string) ([]socket, error) {
	f, err := os.Open(filepath.Join(proc, "net", table))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the %s sockets: %w", table, err)
	}
	defer f.Close()
	state := "0A"
	if strings.HasPrefix(table, "udp") {
		state = "07"
	}
	var out []socket
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[3] != state {
			continue
		}
		s, err := parseAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("read the %s sockets: %q: %w", table, fields[1], err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the %s sockets: %w", table, err)
	}
	return out, nil
}

// parseAddr reads the kernel's "0100007F:1F90": the address as 32-bit
// words in host (little-endian) order, then the port in hex.
func parseAddr(s string) (socket, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return socket{}, errors.New("no port")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return socket{}, fmt.Errorf("port: %w", err)
	}
	b, err := hex.DecodeString(a)
	if err != nil || len(b) != 4 && len(b) != 16 {
		return socket{}, errors.New("address is neither IPv4 nor IPv6")
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	addr, _ := netip.AddrFromSlice(b)
	return socket{addr: addr, port: uint16(port)}, nil
}
