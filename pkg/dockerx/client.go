// Package dockerx is brine's connection to the Docker engine: client
// construction from the environment (unix socket or DOCKER_HOST) with API
// version negotiation, so an older engine such as Debian's docker.io 20.10
// (API 1.41) works, a time limit on every call, and the helpers the docker
// states and execution module share (image references, build contexts,
// progress streams, the docker_engine grain).
package dockerx

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// DefaultTimeout bounds each ordinary engine call (inspect, create, start…)
// when the user gives no client_timeout.
const DefaultTimeout = 30 * time.Second

// SlowTimeout bounds calls that legitimately take long: building, loading
// and pulling images, stopping and restarting containers.
const SlowTimeout = 10 * time.Minute

// Client is a connection to one Docker engine. API answers ordinary calls
// and gives up after the connection's timeout; Slow is the same engine for
// builds, loads, pulls and stops, with SlowTimeout. Neither can hang.
type Client struct {
	API     *client.Client
	Slow    *client.Client
	Host    string
	Version string // negotiated API version
}

// Connect builds a client from the environment (DOCKER_HOST, DOCKER_TLS_VERIFY,
// DOCKER_CERT_PATH, DOCKER_API_VERSION; the local unix socket by default),
// pings the engine and negotiates the API version. timeout bounds every
// ordinary call, the ping included; zero means DefaultTimeout. An engine
// that is down or does not answer in time is an error saying so.
func Connect(ctx context.Context, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	api, err := client.New(client.FromEnv, client.WithTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("configure Docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := api.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = api.Close()
		return nil, unreachable(api.DaemonHost(), timeout, err)
	}
	slow, err := client.New(client.FromEnv, client.WithTimeout(max(SlowTimeout, timeout)),
		client.WithAPIVersion(api.ClientVersion()))
	if err != nil {
		_ = api.Close()
		return nil, fmt.Errorf("configure Docker client: %w", err)
	}
	return &Client{API: api, Slow: slow, Host: api.DaemonHost(), Version: api.ClientVersion()}, nil
}

func unreachable(host string, timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return fmt.Errorf("the Docker engine at %s did not answer within %s: %w", host, timeout, err)
	}
	return fmt.Errorf("the Docker engine at %s is not reachable (is dockerd running?): %w", host, err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Close releases the client's connections.
func (c *Client) Close() error {
	return errors.Join(c.API.Close(), c.Slow.Close())
}

// IsNotFound reports whether err is the engine saying an object does not exist.
func IsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
