package dockerx_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/testfs"
)

func TestImageRef(t *testing.T) {
	for _, tc := range []struct {
		name, tag, want, err string
	}{
		{"api", "", "api:latest", ""},
		{"api", "2", "api:2", ""},
		{"api:2", "", "api:2", ""},
		{"registry:5000/team/api", "3", "registry:5000/team/api:3", ""},
		{"registry:5000/team/api:3", "", "registry:5000/team/api:3", ""},
		{"api@sha256:0123", "", "api@sha256:0123", ""},
		{"api:2", "3", "", "already has a tag"},
		{"", "1", "", "empty"},
	} {
		got, err := dockerx.ImageRef(tc.name, tc.tag)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ImageRef(%q, %q) = %q, %v; want %q, %q", tc.name, tc.tag, got, err, tc.want, tc.err)
		}
	}
}

func TestReadStream(t *testing.T) {
	for _, tc := range []struct {
		file, out, err string
	}{
		{"build-ok.jsonl", "Step 1/1 : FROM scratch\nSuccessfully built abc\n", ""},
		{"build-failed.jsonl", "Step 1/2 : FROM scratch\n ---> \nStep 2/2 : COPY missing /m\n", "COPY failed: no source files were specified"},
		{"pull-ok.jsonl", "1.0: Pulling from library/x\nStatus: Downloaded newer image for x:1.0\n", ""},
		{"legacy-error.jsonl", "", "legacy error text"},
		{"truncated.jsonl", "", "read engine progress"},
	} {
		f, err := os.Open(filepath.Join("testdata", "streams", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		out, err := dockerx.ReadStream(f)
		f.Close()
		if out != tc.out || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %q, %v; want %q, %q", tc.file, out, err, tc.out, tc.err)
		}
	}
}

func TestContextHash(t *testing.T) {
	base := map[string]string{"Dockerfile": "FROM scratch\n", "app/main.go": "package main\n"}
	hash := func(dir string, extra ...string) string {
		h, err := dockerx.ContextHash(dir, extra...)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a := testfs.Temp(t, base)
	b := testfs.Temp(t, base)
	ref := hash(a)
	if hash(b) != ref {
		t.Fatal("the same tree in another place hashes differently")
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(b, "Dockerfile"), later, later); err != nil {
		t.Fatal(err)
	}
	if hash(b) != ref {
		t.Error("a modification time changed the hash")
	}
	for name, mutate := range map[string]func(dir string) error{
		"content": func(d string) error {
			return os.WriteFile(filepath.Join(d, "app/main.go"), []byte("package app\n"), 0o644)
		},
		"mode":    func(d string) error { return os.Chmod(filepath.Join(d, "Dockerfile"), 0o600) },
		"new":     func(d string) error { return os.WriteFile(filepath.Join(d, "NOTES"), nil, 0o644) },
		"rename":  func(d string) error { return os.Rename(filepath.Join(d, "app"), filepath.Join(d, "src")) },
		"symlink": func(d string) error { return os.Symlink("Dockerfile", filepath.Join(d, "link")) },
	} {
		d := testfs.Temp(t, base)
		if err := mutate(d); err != nil {
			t.Fatal(err)
		}
		if hash(d) == ref {
			t.Errorf("%s change left the hash unchanged", name)
		}
	}
	if hash(a, "buildarg VERSION=2") == ref {
		t.Error("extra inputs left the hash unchanged")
	}
	if _, err := dockerx.ContextHash(filepath.Join(a, "nothing")); err == nil {
		t.Error("hash of a missing directory")
	}
}

func TestTarContext(t *testing.T) {
	dir := testfs.Temp(t, map[string]string{"Dockerfile": "FROM scratch\n", "app/main.go": "package main\n"})
	r := dockerx.TarContext(dir)
	defer r.Close()
	tr := tar.NewReader(r)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "app/main.go" {
			b, _ := io.ReadAll(tr)
			if string(b) != "package main\n" {
				t.Errorf("app/main.go holds %q", b)
			}
		}
	}
	if want := []string{"Dockerfile", "app/", "app/main.go"}; !slices.Equal(names, want) {
		t.Errorf("archive holds %v, want %v", names, want)
	}
	broken := dockerx.TarContext(filepath.Join(dir, "nothing"))
	defer broken.Close()
	if _, err := io.ReadAll(broken); err == nil {
		t.Error("archive of a missing directory read without error")
	}
}

type dirEnv struct{ root string }

func (e dirEnv) SourceDir(_ context.Context, url string) (string, error) {
	return filepath.Join(e.root, strings.TrimPrefix(url, "brine://")), nil
}

func TestContextDir(t *testing.T) {
	dir := testfs.Temp(t, map[string]string{"api/Dockerfile": "FROM scratch\n"})
	ctx := context.Background()
	for _, tc := range []struct {
		env       any
		url, want string
		err       string
	}{
		{dirEnv{dir}, "brine://api", filepath.Join(dir, "api"), ""},
		{nil, "brine://api", "", "cannot serve directories"},
		{nil, filepath.Join(dir, "api"), filepath.Join(dir, "api"), ""},
		{nil, filepath.Join(dir, "api", "Dockerfile"), "", "not a directory"},
		{nil, "api", "", "absolute path"},
	} {
		got, err := dockerx.ContextDir(ctx, tc.env, tc.url)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ContextDir(%q) = %q, %v; want %q, %q", tc.url, got, err, tc.want, tc.err)
		}
	}
}

func TestConnectNegotiates(t *testing.T) {
	dc := dockertest.Engine(t)
	v, err := dc.API.ServerVersion(context.Background(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := v.APIVersion
	if versions.GreaterThan(want, client.MaxAPIVersion) {
		want = client.MaxAPIVersion
	}
	if dc.Version != want {
		t.Errorf("negotiated API %s with an engine speaking %s", dc.Version, v.APIVersion)
	}
	if dc.Slow.ClientVersion() != dc.Version {
		t.Errorf("slow client speaks %s, not %s", dc.Slow.ClientVersion(), dc.Version)
	}
	g := dockerx.Grains(context.Background())["docker_engine"].(map[string]any)
	if g["version"] != v.Version || g["api_version"] != v.APIVersion {
		t.Errorf("grain %v, engine %s/%s", g, v.Version, v.APIVersion)
	}
}

func TestEngineDown(t *testing.T) {
	t.Run("no socket", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/none.sock")
		_, err := dockerx.Connect(context.Background(), time.Second)
		if err == nil || !strings.Contains(err.Error(), "is not reachable") {
			t.Fatalf("Connect: %v", err)
		}
		if g := dockerx.Grains(context.Background()); len(g) != 0 {
			t.Errorf("grains without an engine: %v", g)
		}
	})
	t.Run("hanging", func(t *testing.T) {
		dockertest.HangingEngine(t)
		start := time.Now()
		_, err := dockerx.Connect(context.Background(), 300*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "did not answer within 300ms") {
			t.Fatalf("Connect: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Connect took %s", d)
		}
		start = time.Now()
		if g := dockerx.Grains(context.Background()); len(g) != 0 || time.Since(start) > 4*time.Second {
			t.Errorf("grains from a hanging engine: %v after %s", g, time.Since(start))
		}
	})
}
