// Command image builds kmirror's container image without a Docker daemon:
//
//	go run ./deploy/image -o kmirror-image.tar
//	go run ./deploy/image -push registry.example.com/kmirror:v1.2.3
//
// kmirror is one static Go binary, so its image needs no base image, no
// package manager and no shell: one layer holding the binary and the
// /etc/passwd and /etc/group that name the non-root user it runs as. Such an
// image is written here in Go with go-containerregistry, which needs neither
// a daemon nor root nor a Dockerfile, and runs wherever Go runs, CI included.
//
// The image is reproducible: built twice from the same commit, with the same
// Go toolchain, it has the same digest. Every input that reaches it is a flag
// (platforms, version, commit, epoch); the binary is built with -trimpath and
// without cgo; every timestamp (the config's created, its history, each file
// in the layer and in the archive) is the epoch, which defaults to the
// commit's time or SOURCE_DATE_EPOCH; tar entries are sorted, owned by 0:0 and
// carry no user names. Anyone can rebuild a release and compare digests.
//
// The output is an OCI archive: an OCI image layout packed in a tar, whose
// index.json names one multi-platform image index, tagged kmirror:VERSION.
// skopeo reads it as oci-archive:PATH (with --multi-arch all to copy every
// platform) and podman load takes it; -push also sends the index to a
// registry with the credentials of docker or podman login.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run parses args, builds the image into the archive, pushes it when asked
// and prints the index digest and where the image went.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "kmirror-image.tar", "write the image to this `path` as an OCI archive")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated `os/arch[/variant]` list, one image each")
	version := fs.String("version", "", "version stamped into the binary and labels (default: git describe --tags --always --dirty, or dev)")
	commit := fs.String("commit", "", "commit stamped into the binary and labels (default: git rev-parse HEAD, or unknown)")
	epoch := fs.String("epoch", "", "Unix `seconds` for every timestamp in the image (default: $SOURCE_DATE_EPOCH, else the commit time, else 0)")
	pushRef := fs.String("push", "", "also push the image index to this registry `reference`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	s, err := resolve(ctx, *platforms, *version, *commit, *epoch)
	if err != nil {
		return err
	}
	idx, err := build(ctx, s, *out, stderr)
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("index digest: %w", err)
	}
	if *pushRef != "" {
		pushed, err := push(ctx, idx, *pushRef)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pushed %s\n", pushed)
	}
	fmt.Fprintf(stdout, "index %s\nwrote %s\n", d, *out)
	return nil
}

// resolve turns the flags into a spec, filling what was left empty from git
// and the environment, and reports every bad value at once.
func resolve(ctx context.Context, platforms, version, commit, epoch string) (spec, error) {
	ps, perr := parsePlatforms(platforms)
	if version == "" {
		version = gitOr(ctx, "dev", "describe", "--tags", "--always", "--dirty")
	}
	if commit == "" {
		commit = gitOr(ctx, "unknown", "rev-parse", "HEAD")
	}
	if epoch == "" {
		epoch = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if epoch == "" {
		epoch = gitOr(ctx, "0", "log", "-1", "--format=%ct")
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	var eerr error
	if err != nil || secs < 0 {
		eerr = fmt.Errorf("epoch %q: want whole seconds since 1970", epoch)
	}
	s := spec{
		platforms: ps,
		version:   version,
		commit:    commit,
		// UTC, so that the config's JSON does not depend on the local zone.
		epoch: time.Unix(secs, 0).UTC(),
	}
	return s, errors.Join(perr, eerr, s.validate())
}

// gitOr runs git with args and returns its trimmed output, or fallback when
// git fails or prints nothing (no git, no repository, no commit yet).
func gitOr(ctx context.Context, fallback string, args ...string) string {
	b, err := exec.CommandContext(ctx, "git", args...).Output()
	if s := strings.TrimSpace(string(b)); err == nil && s != "" {
		return s
	}
	return fallback
}

// push sends idx, its images and their blobs to ref with the credentials of
// docker or podman login, and returns the digest reference it was pushed as.
func push(ctx context.Context, idx v1.ImageIndex, ref string) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("push: %w", err)
	}
	if err := remote.WriteIndex(r, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", r, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", r, err)
	}
	return r.Context().Digest(d.String()), nil
}
