package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchLayer is an uncompressed layer tar: dirs directories of files
// files each, size bytes per file.
func benchLayer(b *testing.B, dirs, files, size int) []byte {
	b.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := bytes.Repeat([]byte("ctrlab layer data\n"), size/18+1)[:size]
	for d := 0; d < dirs; d++ {
		dn := fmt.Sprintf("usr/share/d%03d/", d)
		if err := tw.WriteHeader(&tar.Header{Name: dn, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < files; f++ {
			h := &tar.Header{Name: fmt.Sprintf("%sf%03d", dn, f), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)}
			if err := tw.WriteHeader(h); err != nil {
				b.Fatal(err)
			}
			if _, err := tw.Write(body); err != nil {
				b.Fatal(err)
			}
		}
		// a symlink and a whiteout per directory: the paths unpack special-cases
		if err := tw.WriteHeader(&tar.Header{Name: dn + "link", Typeflag: tar.TypeSymlink, Linkname: "f000", Mode: 0o777}); err != nil {
			b.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: dn + ".wh.gone", Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkUnpackLayer unpacks a generated layer (1,000 files of 4 KiB and
// 100 of 1 MiB) into a fresh directory per iteration; unprivileged runs
// skip ownership. Reports MB/s of tar input.
func BenchmarkUnpackLayer(b *testing.B) {
	for _, tc := range []struct {
		name              string
		dirs, files, size int
	}{
		{"small-files", 50, 20, 4 << 10},
		{"big-files", 10, 10, 1 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			layer := benchLayer(b, tc.dirs, tc.files, tc.size)
			base := b.TempDir()
			opts := []UnpackOption{WithOwnership(os.Geteuid() == 0)}
			b.SetBytes(int64(len(layer)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(base, fmt.Sprint(i))
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				if _, err := UnpackLayer(context.Background(), bytes.NewReader(layer), dir, opts...); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
