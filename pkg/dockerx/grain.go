package dockerx

import (
	"context"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// grainTimeout keeps grain collection fast when an engine hangs.
const grainTimeout = 2 * time.Second

// Grains returns the docker_engine grain: {"docker_engine": {"version": "20.10.24",
// "api_version": "1.41", "os": "linux", "arch": "amd64"}} when a Docker
// engine answers, and an empty map when none does (the grain is then
// absent, so top files can target Docker hosts with `docker_engine:version:*`; it is
// not named docker, the key Salt formulas read their own settings from with
// config.get, which looks at grains before pillar).
// Grains are collected on every run, so this asks the engine's /_ping
// endpoint directly (one request, no client set-up or API negotiation);
// with neither DOCKER_HOST nor the default socket it returns at once.
func Grains(ctx context.Context) map[string]any {
	host := os.Getenv(client.EnvOverrideHost)
	if host == "" {
		host = client.DefaultDockerHost
	}
	var dial func(ctx context.Context) (net.Conn, error)
	base := "http://docker"
	switch {
	case strings.HasPrefix(host, "unix://"):
		sock := strings.TrimPrefix(host, "unix://")
		if _, err := os.Stat(sock); err != nil {
			return map[string]any{}
		}
		dial = func(ctx context.Context) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
	case strings.HasPrefix(host, "tcp://") && os.Getenv(client.EnvOverrideCertPath) == "":
		addr := strings.TrimPrefix(host, "tcp://")
		dial = func(ctx context.Context) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
	default:
		return map[string]any{} // TLS engines are reached through Connect, not for a grain
	}
	ctx, cancel := context.WithTimeout(ctx, grainTimeout)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		DisableKeepAlives: true,
	}}
	// /_ping answers at once; /version asks containerd and takes ~15 ms.
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, base+"/_ping", nil)
	if err != nil {
		return map[string]any{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return map[string]any{}
	}
	resp.Body.Close()
	// Server: Docker/20.10.24+dfsg1 (linux)
	server := resp.Header.Get("Server")
	version, rest, _ := strings.Cut(strings.TrimPrefix(server, "Docker/"), " ")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(server, "Docker/") || version == "" {
		return map[string]any{}
	}
	osType := resp.Header.Get("Ostype")
	if osType == "" {
		osType = strings.Trim(rest, "()")
	}
	grain := map[string]any{"version": version, "api_version": resp.Header.Get("Api-Version"), "os": osType}
	if strings.HasPrefix(host, "unix://") {
		grain["arch"] = runtime.GOARCH // a local engine runs on this host
	}
	return map[string]any{"docker_engine": grain}
}
