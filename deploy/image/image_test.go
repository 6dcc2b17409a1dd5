package main

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"log"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmirror/kmirror/internal/kube"
	"github.com/kmirror/kmirror/internal/testbed"
)

// TestImage builds the host platform's image twice, as main does, and checks
// the archive: reproducible, the config kmirror needs, a static binary that
// reports the stamped version, and a push that keeps the digest.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary is for linux and the test runs it; GOOS is " + runtime.GOOS)
	}
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	s := spec{
		platforms: []v1.Platform{host},
		version:   "v0.0.0-test",
		commit:    "0123456789abcdef",
		epoch:     time.Unix(1700000000, 0).UTC(),
	}
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.tar"), filepath.Join(dir, "second.tar")
	start := time.Now()
	idx := buildImage(t, s, first)
	t.Logf("first build: %s", time.Since(start).Round(time.Millisecond))
	again := buildImage(t, s, second)
	digest := digestOf(t, idx)
	t.Logf("index %s", digest)

	t.Run("reproducible", func(t *testing.T) {
		if d := digestOf(t, again); d != digest {
			t.Errorf("second build's index is %s, first's %s", d, digest)
		}
		a, b := readFile(t, first), readFile(t, second)
		if !bytes.Equal(a, b) {
			t.Errorf("the two archives differ (%d and %d bytes)", len(a), len(b))
		}
	})

	img := archivedImage(t, first, digest, host)

	t.Run("config", func(t *testing.T) {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		checks := []struct {
			what      string
			got, want any
		}{
			{"user", c.User, "65532:65532"},
			{"entrypoint", c.Entrypoint, []string{"/usr/local/bin/kmirror"}},
			{"cmd", c.Cmd, []string(nil)},
			{"env", c.Env, []string{"PATH=/usr/local/bin"}},
			{"working dir", c.WorkingDir, "/"},
			{"exposes 9721/tcp", hasKey(c.ExposedPorts, "9721/tcp"), true},
			{"version label", c.Labels["org.opencontainers.image.version"], s.version},
			{"revision label", c.Labels["org.opencontainers.image.revision"], s.commit},
			{"title label", c.Labels["org.opencontainers.image.title"], "kmirror"},
			{"created", cf.Created.UTC(), s.epoch},
			{"history created", cf.History[0].Created.UTC(), s.epoch},
			{"os/arch", cf.Platform().String(), host.String()},
		}
		for _, c := range checks {
			if !equal(c.got, c.want) {
				t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
			}
		}
	})

	t.Run("layer", func(t *testing.T) {
		files := layerFiles(t, img, s.epoch)
		if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") {
			t.Errorf("/etc/passwd has no nonroot user:\n%s", files["etc/passwd"].data)
		}
		bin, ok := files["usr/local/bin/kmirror"]
		if !ok {
			t.Fatalf("no entrypoint in the layer, only %v", slices.Sorted(maps.Keys(files)))
		}
		if bin.mode != 0o755 {
			t.Errorf("entrypoint mode %o, want 755", bin.mode)
		}
		path := filepath.Join(t.TempDir(), "kmirror")
		if err := os.WriteFile(path, bin.data, os.FileMode(bin.mode)); err != nil {
			t.Fatal(err)
		}
		checkStatic(t, path)
		// The image has no CA bundle: the binary carries its own roots.
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(info.Deps, func(m *debug.Module) bool { return m.Path == "golang.org/x/crypto/x509roots/fallback" }) {
			t.Error("the binary carries no fallback CA roots (golang.org/x/crypto/x509roots/fallback)")
		}
		out, err := exec.CommandContext(t.Context(), path, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("kmirror version: %v\n%s", err, out)
		}
		if want := "kmirror v0.0.0-test (commit 0123456789abcdef"; !strings.Contains(string(out), want) {
			t.Errorf("kmirror version printed %q, want it to contain %q", out, want)
		}
	})

	t.Run("runs as its user in a root of its own", func(t *testing.T) {
		runInRoot(t, img, s.epoch)
	})

	t.Run("push", func(t *testing.T) {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		ref := strings.TrimPrefix(srv.URL, "http://") + "/kmirror:test"
		pushed, err := push(t.Context(), idx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if pushed.DigestStr() != digest.String() {
			t.Errorf("push reported %s, want digest %s", pushed, digest)
		}
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Index(r, remote.WithContext(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		if d := digestOf(t, got); d != digest {
			t.Errorf("registry has index %s, archive %s", d, digest)
		}
	})
}

func TestParsePlatforms(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // Platform.String of each
		wantEnv []string // goEnv of the last platform, when set
		wantErr string
	}{
		{in: "linux/amd64,linux/arm64", want: []string{"linux/amd64", "linux/arm64"},
			wantEnv: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOARM=", "GOAMD64=", "GOARM64="}},
		{in: "linux/arm/v7", want: []string{"linux/arm/v7"},
			wantEnv: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7"}},
		{in: "linux/amd64/v3", want: []string{"linux/amd64/v3"},
			wantEnv: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v3"}},
		{in: "darwin/arm64", wantErr: `platform "darwin/arm64": want linux/ARCH[/VARIANT]`},
		{in: "linux/amd64,linux/amd64", wantErr: "given twice"},
		{in: "linux/arm/v9", wantErr: `variant "v9" is not one Go builds for`},
		{in: "", wantErr: "want linux/ARCH"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ps, err := parsePlatforms(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			env, err := goEnv(ps[len(ps)-1])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(env, tt.wantEnv) {
				t.Errorf("goEnv: got %q, want %q", env, tt.wantEnv)
			}
		})
	}
}

// buildImage runs build as main does, writing the archive to out.
func buildImage(t *testing.T, s spec, out string) v1.ImageIndex {
	t.Helper()
	idx, err := build(t.Context(), s, out, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// archivedImage opens the archive at path and returns the image for p,
// checking that index.json names exactly the index with digest want.
func archivedImage(t *testing.T, path string, want v1.Hash, p v1.Platform) v1.Image {
	t.Helper()
	dir := t.TempDir()
	untar(t, path, dir)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want || im.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json lists %+v, want only the index %s", im.Manifests, want)
	}
	idx, err := top.ImageIndex(want)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.Equals(p) {
			if d.MediaType != types.OCIManifestSchema1 {
				t.Errorf("manifest media type %s, want %s", d.MediaType, types.OCIManifestSchema1)
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no manifest for %s in %+v", p, m.Manifests)
	return nil
}

// file is a regular file read from a layer.
type file struct {
	mode int64
	data []byte
}

// layerFiles reads img's single layer, checks that every entry is stamped
// with mtime and owned by 0:0 without names, and returns its regular files
// by name.
func layerFiles(t *testing.T, img v1.Image, mtime time.Time) map[string]file {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	if mt, err := layers[0].MediaType(); err != nil || mt != types.OCILayer {
		t.Errorf("layer media type %s (%v), want %s", mt, err, types.OCILayer)
	}
	size, err := layers[0].Size()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("layer: %d bytes compressed", size)
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	files := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(mtime) {
			t.Errorf("%s: mtime %s, want %s", h.Name, h.ModTime.UTC(), mtime)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d (%q:%q), want 0:0 with no names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = file{mode: h.Mode, data: b}
		}
	}
}

// checkStatic fails t unless the ELF file at path needs no dynamic loader
// and no shared library.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a PT_INTERP program header: dynamically linked", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q", path, libs)
	}
}

// untar extracts the regular files and directories of the tar at path into
// dir.
func untar(t *testing.T, path, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(readFile(t, path)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q leaves the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(target, b, 0o644)
			}
		default:
			t.Fatalf("archive entry %q has type %q", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digestOf(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// equal compares the values of a config check.
func equal(got, want any) bool {
	switch w := want.(type) {
	case []string:
		g, ok := got.([]string)
		return ok && slices.Equal(g, w)
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	default:
		return got == want
	}
}

// testWriter passes go build's output to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runInRoot runs the image as a container runtime would, as far as kmirror
// can tell: its layer alone as the root directory (owned by root, so that
// nothing in it is writable), the configuration where the Kubernetes
// manifests mount it, the config's user and entrypoint. It copies records
// between two kfake clusters and stops cleanly on SIGTERM. chroot needs
// root, which CI has.
func runInRoot(t *testing.T, img v1.Image, epoch time.Time) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root; .ci/run runs as root")
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	uid, gid, ok := strings.Cut(cf.Config.User, ":")
	u, uerr := strconv.ParseUint(uid, 10, 32)
	g, gerr := strconv.ParseUint(gid, 10, 32)
	if !ok || uerr != nil || gerr != nil || u == 0 {
		t.Fatalf("user %q is not a numeric non-root uid:gid", cf.Config.User)
	}

	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	src, tgt := testbed.NewCluster(t), testbed.NewCluster(t)
	files := map[string][]byte{
		strings.TrimPrefix(path.Join(kube.ConfigDir, kube.ConfigKey), "/"): []byte(testbed.NativeConfig(src, tgt, `    topicsPattern: "app1-.*"
    sourceConnector:
      config:
        replication.policy.class: identity
`)),
	}
	for name, f := range layerFiles(t, img, epoch) {
		files[name] = f.data
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if "/"+name == cf.Config.Entrypoint[0] {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.CreateTopic("app1-orders", 3, nil); err != nil {
		t.Fatal(err)
	}
	records := make([]*kgo.Record, 100)
	for i := range records {
		records[i] = &kgo.Record{Topic: "app1-orders", Partition: int32(i % 3), Key: []byte(strconv.Itoa(i)), Value: []byte("v")}
	}
	src.Produce(t, records)

	args := append(slices.Clone(cf.Config.Entrypoint[1:]), "run", "-c", path.Join(kube.ConfigDir, kube.ConfigKey), "--http", "")
	cmd := exec.Command(cf.Config.Entrypoint[0], args...)
	cmd.Dir = cf.Config.WorkingDir
	cmd.Env = cf.Config.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uint32(u), Gid: uint32(g)}}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	testbed.WaitFor(t, time.Minute, "the records copied by the image's kmirror", func() bool {
		var n int64
		for _, end := range tgt.EndOffsets(t, "app1-orders") {
			n += end
		}
		return n == int64(len(records))
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("no exit 45 s after SIGTERM:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "stopped; progress persisted") {
		t.Errorf("no clean stop:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
