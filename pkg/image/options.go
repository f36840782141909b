package image

import (
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultRootDir is the store root when neither an option nor CTRLAB_ROOT
// says otherwise.
const DefaultRootDir = "/var/lib/ctrlab"

// DefaultRoot returns $CTRLAB_ROOT, or /var/lib/ctrlab.
func DefaultRoot() string {
	if r := os.Getenv("CTRLAB_ROOT"); r != "" {
		return r
	}
	return DefaultRootDir
}

// Progress is one report of a layer download, for progress bars. Done ==
// Total and Complete mark the end of a layer; Cached marks a layer that was
// already in the store and was not downloaded.
type Progress struct {
	Index    int    `json:"index"`
	Digest   string `json:"digest"`
	Done     int64  `json:"done"`
	Total    int64  `json:"total"`
	Complete bool   `json:"complete"`
	Cached   bool   `json:"cached"`
}

type options struct {
	root     string
	platform *v1.Platform
	insecure bool
	progress func(Progress)
	parallel int
	unpack   []UnpackOption
}

// Option configures Pull, Load and the package-level helpers.
type Option func(*options)

// WithRoot sets the store root (default DefaultRoot()).
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithPlatform selects the platform to pull from an index, as
// "os/arch[/variant]": "linux/arm64", "linux/arm/v7". Invalid strings are
// reported by Pull.
func WithPlatform(p string) Option {
	return func(o *options) {
		if pl, err := v1.ParsePlatform(p); err == nil && p != "" {
			o.platform = pl
		} else {
			o.platform = &v1.Platform{OS: "invalid:" + p}
		}
	}
}

// WithInsecure allows plain HTTP to the registry (a test registry on
// localhost). Equivalent to: `skopeo copy --src-tls-verify=false`.
func WithInsecure() Option { return func(o *options) { o.insecure = true } }

// WithProgress receives per-layer download progress. Calls are serialised.
func WithProgress(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// WithParallel bounds the number of layers downloaded at once (default 3).
func WithParallel(n int) Option { return func(o *options) { o.parallel = n } }

// WithUnpackOptions passes options to the layer unpacker (LayerDirs).
func WithUnpackOptions(u ...UnpackOption) Option {
	return func(o *options) { o.unpack = append(o.unpack, u...) }
}

func buildOptions(opts []Option) *options {
	o := &options{root: DefaultRoot(), parallel: 3}
	for _, f := range opts {
		f(o)
	}
	if o.parallel < 1 {
		o.parallel = 1
	}
	return o
}

// HostPlatform is the platform this process runs on: runtime.GOOS and
// GOARCH, plus the variant (arm: from /proc/cpuinfo, v7 by default;
// arm64: v8).
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm":
		p.Variant = armVariant()
	case "arm64":
		p.Variant = "v8"
	}
	return p
}
