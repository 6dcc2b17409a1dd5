package main

import (
	"archive/tar"
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// refNameKey is the OCI annotation that names an image in a layout's
// index.json.
const refNameKey = "org.opencontainers.image.ref.name"

// entry is one file or directory of a tar written by writeTar.
type entry struct {
	name string // relative, slash-separated; a directory's ends in "/"
	mode int64
	data []byte // a file's contents
}

// writeTar writes entries to w as a reproducible tar: sorted by name, each
// stamped with mtime, owned by 0:0 with no user or group names. The USTAR
// format has no room for access or change times, so nothing of the machine
// that wrote it slips in.
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.name, b.name) })
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: mtime,
			Format:  tar.FormatUSTAR,
		}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write tar entry %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("write tar entry %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write tar: %w", err)
	}
	return nil
}

// writeArchive writes idx to path as an OCI archive: an OCI image layout in
// a reproducible tar. Its index.json lists idx alone, named refName: with
// one entry, skopeo's oci-archive:PATH and podman load need no name to pick
// it. The file appears whole or not at all.
func writeArchive(path string, idx v1.ImageIndex, refName string, mtime time.Time) error {
	dir, err := os.MkdirTemp("", "kmirror-layout-")
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	defer os.RemoveAll(dir)

	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameKey: refName})); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	entries, err := readTree(dir)
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}

	f, err := os.CreateTemp(filepath.Dir(path), ".kmirror-image-*.tar")
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	err = writeTar(f, entries, mtime)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	return nil
}

// readTree reads every directory and file under dir as tar entries; the
// modes are fixed (0755, 0644), not the ones umask left on disk.
func readTree(dir string) ([]entry, error) {
	var entries []entry
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			entries = append(entries, entry{name: name + "/", mode: 0o755})
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		entries = append(entries, entry{name: name, mode: 0o644, data: b})
		return nil
	})
	return entries, err
}
