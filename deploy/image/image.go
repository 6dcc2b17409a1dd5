package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// cliPkg holds the version and commit variables stamped by -X.
	cliPkg = "github.com/kmirror/kmirror/internal/cli"
	// mainPkg is named by import path, so the build works from any
	// directory of the module (the test runs in deploy/image).
	mainPkg = "github.com/kmirror/kmirror/cmd/kmirror"

	entrypoint = "/usr/local/bin/kmirror"
	// nonroot is the user and group the image runs as; numeric in the
	// config so that Kubernetes' runAsNonRoot can check it without
	// reading /etc/passwd.
	nonroot = "65532"
	// httpPort is kmirror's HTTP API and metrics port.
	httpPort = "9721/tcp"
	source   = "https://github.com/kmirror/kmirror"
)

// passwd and group name the users the image knows, so that tools which look
// a uid up (ps, id, a JVM agent, …) find a name instead of failing.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// spec is every input of a build: the same spec gives the same digests.
type spec struct {
	platforms []v1.Platform
	version   string // stamped into the binary; a label; the archive's tag
	commit    string // stamped into the binary; a label
	epoch     time.Time
}

// stamp is what -X can carry unquoted and what an image tag accepts.
var stamp = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// validate checks the version and commit, which -X carries unquoted and the
// archive uses as a tag, and reports both problems at once. (parsePlatforms
// checked the platforms.)
func (s spec) validate() error {
	var errs []error
	if !stamp.MatchString(s.version) {
		errs = append(errs, fmt.Errorf("version %q: want letters, digits, '_', '.' or '-' (an image tag)", s.version))
	}
	if !stamp.MatchString(s.commit) {
		errs = append(errs, fmt.Errorf("commit %q: want letters, digits, '_', '.' or '-'", s.commit))
	}
	return errors.Join(errs...)
}

// refName is the name podman load gives the image, and the one skopeo's
// oci-archive:PATH:NAME selects.
func (s spec) refName() string { return "kmirror:" + s.version }

// labels are the image's OCI labels, also set as the index's annotations.
func (s spec) labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "kmirror",
		"org.opencontainers.image.description": "Replicates Kafka topics and consumer-group offsets between clusters",
		"org.opencontainers.image.version":     s.version,
		"org.opencontainers.image.revision":    s.commit,
		"org.opencontainers.image.source":      source,
	}
}

// parsePlatforms parses a comma-separated list such as
// "linux/amd64,linux/arm/v7". kmirror's images are Linux only.
func parsePlatforms(list string) ([]v1.Platform, error) {
	var ps []v1.Platform
	var errs []error
	for f := range strings.SplitSeq(list, ",") {
		p, err := v1.ParsePlatform(f)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("platform %q: %w", f, err))
		case p.OS != "linux" || p.Architecture == "" || p.OSVersion != "":
			errs = append(errs, fmt.Errorf("platform %q: want linux/ARCH[/VARIANT]", f))
		case slices.ContainsFunc(ps, p.Equals):
			errs = append(errs, fmt.Errorf("platform %q: given twice", f))
		default:
			if _, err := goEnv(*p); err != nil {
				errs = append(errs, err)
			}
			ps = append(ps, *p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ps, nil
}

// goEnv is the environment that makes go build produce a static binary for p.
// The variant sets GOARM or GOAMD64 explicitly, so that the caller's own
// environment cannot build for another level than the one p names.
func goEnv(p v1.Platform) ([]string, error) {
	env := []string{"CGO_ENABLED=0", "GOOS=" + p.OS, "GOARCH=" + p.Architecture}
	switch {
	case p.Variant == "":
		// Go's default level for the architecture.
	case p.Architecture == "arm" && slices.Contains([]string{"v5", "v6", "v7"}, p.Variant):
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	case p.Architecture == "amd64" && slices.Contains([]string{"v1", "v2", "v3", "v4"}, p.Variant):
		env = append(env, "GOAMD64="+p.Variant)
	case p.Architecture == "arm64" && p.Variant == "v8":
		env = append(env, "GOARM64=v8.0")
	default:
		return nil, fmt.Errorf("platform %q: variant %q is not one Go builds for", p, p.Variant)
	}
	if p.Variant == "" {
		// Empty values override the caller's environment, leaving
		// Go's default level for the architecture.
		env = append(env, "GOARM=", "GOAMD64=", "GOARM64=")
	}
	return env, nil
}

// build makes the multi-platform image index for s and writes it to out as
// an OCI archive.
func build(ctx context.Context, s spec, out string, stderr io.Writer) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for _, p := range s.platforms {
		bin, err := buildBinary(ctx, s, p, stderr)
		if err != nil {
			return nil, err
		}
		img, err := makeImage(s, p, bin)
		if err != nil {
			return nil, fmt.Errorf("build image for %s: %w", p, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	idx = mutate.Annotations(idx, s.labels()).(v1.ImageIndex)
	if err := writeArchive(out, idx, s.refName(), s.epoch); err != nil {
		return nil, err
	}
	return idx, nil
}

// buildBinary compiles kmirror for p, static and stamped with s's version
// and commit, and returns the executable.
func buildBinary(ctx context.Context, s spec, p v1.Platform, stderr io.Writer) ([]byte, error) {
	env, err := goEnv(p)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kmirror-image-")
	if err != nil {
		return nil, fmt.Errorf("build kmirror for %s: %w", p, err)
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "kmirror")
	ldflags := fmt.Sprintf("-s -w -X %s.version=%s -X %s.commit=%s", cliPkg, s.version, cliPkg, s.commit)
	// -buildvcs=false: the version and commit are stamped above, and git's
	// view of the work tree (dirty or not) must not change the binary.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, mainPkg)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build kmirror for %s: %w", p, err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("build kmirror for %s: %w", p, err)
	}
	return b, nil
}

// makeImage is the image for p: one layer on nothing, holding bin as the
// entrypoint, run as the non-root user.
func makeImage(s spec, p v1.Platform, bin []byte) (v1.Image, error) {
	layer, err := makeLayer(bin, s.epoch)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.epoch}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "go run ./deploy/image",
			Comment:   "kmirror " + s.version + " as " + entrypoint,
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	cf.Config = v1.Config{
		Entrypoint:   []string{entrypoint},
		User:         nonroot + ":" + nonroot,
		WorkingDir:   "/",
		Env:          []string{"PATH=/usr/local/bin"},
		ExposedPorts: map[string]struct{}{httpPort: {}},
		Labels:       s.labels(),
	}
	return mutate.ConfigFile(img, cf)
}

// makeLayer is the gzipped tar of the image's files, every one stamped with
// epoch and owned by root.
func makeLayer(bin []byte, epoch time.Time) (v1.Layer, error) {
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: strings.TrimPrefix(entrypoint, "/"), mode: 0o755, data: bin},
	}
	var buf bytes.Buffer
	if err := writeTar(&buf, entries, epoch); err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }
	// go-containerregistry gzips with compress/gzip and an empty header (no
	// name, no mtime): the same tar gives the same blob. The best level
	// makes the layer an eighth smaller than the default (fastest) one;
	// caching compresses once for both the archive and the push.
	layer, err := tarball.LayerFromOpener(open,
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.BestCompression),
		tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	return layer, nil
}
