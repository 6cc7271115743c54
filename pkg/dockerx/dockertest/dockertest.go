// Package dockertest helps tests that need a real Docker engine: it gates
// them on an engine answering (skipped locally, failed in CI when
// BRINE_REQUIRE_SYSTEM=1), builds small images FROM scratch around a
// static Go HTTP server compiled by the test, and removes what a test
// created. Everything a test creates is named brine-test-*.
package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/systest"
)

// Engine connects to the Docker engine of the environment, or skips (fails
// in CI) when none answers. The client is closed when the test ends.
func Engine(t testing.TB) *dockerx.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := dockerx.Connect(ctx, 10*time.Second)
	msg := ""
	if err != nil {
		msg = fmt.Sprintf("no Docker engine answers (start one with scripts/start-dockerd.sh): %v", err)
	}
	systest.Require(t, err == nil, msg)
	t.Cleanup(func() { _ = dc.Close() })
	return dc
}

// serverDir is the test server's source, relative to this file.
func serverDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "server")
}

// Context writes a build context into a new temporary directory: the test
// server compiled as a static binary (/server in the image) and a
// Dockerfile FROM scratch that runs it, exposes 8080 and sets VERSION from
// the build argument of that name. It returns the directory.
func Context(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "server"), ".")
	cmd.Dir = serverDir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build test server: %v\n%s", err, out)
	}
	// A label unique to this context gives its images their own layers, so
	// tests running in parallel never share (and remove) each other's.
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	WriteFile(t, dir, "Dockerfile", fmt.Sprintf(Dockerfile, hex.EncodeToString(nonce)))
	return dir
}

// Dockerfile is the test image's recipe; %s is the context's unique label.
const Dockerfile = `FROM scratch
LABEL brine.test-context=%s
ARG VERSION=dev
ENV VERSION=$VERSION
COPY server /server
EXPOSE 8080
ENTRYPOINT ["/server"]
`

// WriteFile writes a file below dir, failing the test on error.
func WriteFile(t testing.TB, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Image builds the context dir as image ref (brine-test-…) with the
// given VERSION, and removes the image when the test ends.
func Image(t testing.TB, dc *dockerx.Client, dir, ref, version string) string {
	t.Helper()
	if !strings.HasPrefix(ref, "brine-test-") {
		t.Fatalf("test image %q must be named brine-test-*", ref)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := dc.Build(ctx, dir, ref, dockerx.BuildOptions{BuildArgs: map[string]string{"VERSION": version}}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	RemoveImage(t, dc, ref)
	return ref
}

// RemoveImage removes image ref when the test ends.
func RemoveImage(t testing.TB, dc *dockerx.Client, ref string) {
	t.Helper()
	t.Cleanup(func() {
		_, _ = dc.API.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
}

// RemoveContainers removes, when the test ends, every container whose
// name starts with prefix (which must start with brine-test-).
func RemoveContainers(t testing.TB, dc *dockerx.Client, prefix string) {
	t.Helper()
	if !strings.HasPrefix(prefix, "brine-test-") {
		t.Fatalf("test containers %q must be named brine-test-*", prefix)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		res, err := dc.API.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", prefix)})
		if err != nil {
			t.Logf("list containers %s*: %v", prefix, err)
			return
		}
		for _, c := range res.Items {
			for _, n := range c.Names {
				if strings.HasPrefix(strings.TrimPrefix(n, "/"), prefix) {
					_, _ = dc.API.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
					break
				}
			}
		}
	})
}

// RemoveNetwork removes network name when the test ends.
func RemoveNetwork(t testing.TB, dc *dockerx.Client, name string) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		if res, err := dc.API.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); err == nil {
			for id := range res.Network.Containers {
				_, _ = dc.API.NetworkDisconnect(ctx, name, client.NetworkDisconnectOptions{Container: id, Force: true})
			}
		}
		_, _ = dc.API.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
	})
}

// RemoveVolume removes volume name when the test ends.
func RemoveVolume(t testing.TB, dc *dockerx.Client, name string) {
	t.Helper()
	t.Cleanup(func() {
		_, _ = dc.API.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{Force: true})
	})
}

// HangingEngine listens on a unix socket that accepts connections and
// never answers, as an engine that hung would, and points DOCKER_HOST at
// it for the rest of the test.
func HangingEngine(t *testing.T) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "hang.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	t.Setenv("DOCKER_HOST", "unix://"+sock)
}
