package dockerx

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// grainTimeout keeps grain collection fast when an engine hangs.
const grainTimeout = 2 * time.Second

// Grains returns the docker grain: {"docker": {"version": "20.10.24",
// "api_version": "1.41", "os": "linux", "arch": "amd64"}} when a Docker
// engine answers, and an empty map when none does (the grain is then
// absent, so top files can target Docker hosts with `docker:version:*`).
// With neither DOCKER_HOST nor the default socket it returns at once.
func Grains(ctx context.Context) map[string]any {
	host := os.Getenv(client.EnvOverrideHost)
	if host == "" {
		if _, err := os.Stat(strings.TrimPrefix(client.DefaultDockerHost, "unix://")); err != nil {
			return map[string]any{}
		}
	}
	c, err := Connect(ctx, grainTimeout)
	if err != nil {
		return map[string]any{}
	}
	defer c.Close()
	v, err := c.API.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return map[string]any{}
	}
	return map[string]any{"docker": map[string]any{
		"version":     v.Version,
		"api_version": v.APIVersion,
		"os":          v.Os,
		"arch":        v.Arch,
	}}
}
