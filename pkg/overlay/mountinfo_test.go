package overlay

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseMountinfoLine(t *testing.T) {
	mi, err := ParseMountinfoLine(`36 35 98:0 /mnt1 /mnt\0402 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue`)
	if err != nil {
		t.Fatal(err)
	}
	want := MountInfo{ID: 36, Parent: 35, MajorMinor: "98:0", Root: "/mnt1", MountPoint: "/mnt 2",
		MountOptions: "rw,noatime", Optional: "master:1 shared:2", FSType: "ext3", Source: "/dev/root",
		SuperOptions: "rw,errors=continue", Line: mi.Line}
	if mi != want {
		t.Fatalf("got %+v\nwant %+v", mi, want)
	}
	if _, err := ParseMountinfoLine("36 35 98:0 /"); err == nil {
		t.Fatal("short line parsed without error")
	}
}

func TestSpecFromSuperOptions(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		want       Spec
		err        error
	}{
		{"legacy with escapes", `rw,lowerdir=/x/l\0401:/x/l\134:2,upperdir=/x/u,workdir=/x/w,uuid=on`,
			Spec{Lowers: []string{"/x/l 1", "/x/l:2"}, Upper: "/x/u", Work: "/x/w", Options: []string{"uuid=on"}}, nil},
		{"lowerdir+ form, data layers skipped", `rw,lowerdir+=/x/a,lowerdir+=/x/b:c,datadir+=/x/d,upperdir=/x/u,workdir=/x/w`,
			Spec{Lowers: []string{"/x/a", "/x/b:c"}, Upper: "/x/u", Work: "/x/w"}, nil},
		{"legacy data-only layers after ::", `ro,lowerdir=/a:/b::/d,metacopy=on`,
			Spec{Lowers: []string{"/a", "/b"}, Options: []string{"metacopy=on"}}, nil},
		{"escaped comma", `rw,lowerdir+=/a\054b,upperdir=/u,workdir=/w`,
			Spec{Lowers: []string{"/a,b"}, Upper: "/u", Work: "/w"}, nil},
		{"relative", `rw,lowerdir=l2,upperdir=u,workdir=w`, Spec{}, ErrRelativeLayers},
		{"no lower", `rw,upperdir=/u`, Spec{}, ErrNoLower},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SpecFromSuperOptions(tc.opts)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestMountedSpecFromFixture(t *testing.T) {
	old := mountinfoPath
	mountinfoPath = "testdata/mountinfo-overlays.txt"
	t.Cleanup(func() { mountinfoPath = old })

	s, err := MountedSpec("/tmp/ctrlabnew/m")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/tmp/ctrlabnew/l 1", "/tmp/ctrlabnew/l:2"}; !reflect.DeepEqual(s.Lowers, want) || s.Upper != "/tmp/ctrlabnew/u" {
		t.Fatalf("spec = %+v", s)
	}
	s, err = MountedSpec("/tmp/ctrlab a/m/")
	// The last line mounts a tmpfs over the overlay: the topmost mount wins.
	if !errors.Is(err, ErrNotOverlay) {
		t.Fatalf("MountedSpec over a tmpfs = %+v, %v; want ErrNotOverlay", s, err)
	}
	if _, err := MountedSpec("/tmp/ctrlabrel/m"); !errors.Is(err, ErrRelativeLayers) {
		t.Fatalf("relative layers: err = %v", err)
	}
	if _, err := MountedSpec("/nonexistent/ctrlab"); !errors.Is(err, ErrNotMounted) {
		t.Fatalf("missing mount: err = %v", err)
	}
	line, err := MountinfoLine("/tmp/ctrlabdata/m")
	if err != nil || !strings.HasPrefix(line, "50 22 0:42 ") {
		t.Fatalf("MountinfoLine = %q, %v", line, err)
	}
	s, err = FindByUpper("/tmp/ctrlabcomma/u")
	if err != nil || s.Target != "/tmp/ctrlabcomma/m" || s.Lowers[0] != "/tmp/ctrlabcomma/a,b" {
		t.Fatalf("FindByUpper = %+v, %v", s, err)
	}
}

func TestSpecDataAndEquivalent(t *testing.T) {
	s := Spec{Lowers: []string{"/l/top", "/l/a:b"}, Upper: "/u", Work: "/w", Target: "/m m", Options: []string{"ro", "index=off"}}
	if got, want := s.Data(), `lowerdir=/l/top:/l/a\:b,upperdir=/u,workdir=/w,index=off`; got != want {
		t.Errorf("Data = %q, want %q", got, want)
	}
	if got, want := s.Equivalent(), `mount -t overlay overlay -o 'lowerdir=/l/top:/l/a\:b,upperdir=/u,workdir=/w,index=off,ro' '/m m'`; got != want {
		t.Errorf("Equivalent = %q, want %q", got, want)
	}
	if flags, _ := s.splitOptions(); flags != 0x1 {
		t.Errorf("flags = %#x, want MS_RDONLY", flags)
	}
	if got := LayerName(-1) + "," + LayerName(0) + "," + LayerName(2); got != "upper,lower1,lower3" {
		t.Errorf("LayerName = %q", got)
	}
}

func TestFlagStringAndMountError(t *testing.T) {
	if got := FlagString(0x1 | 0x2 | 0x4000 | 0x80000000); got != "MS_RDONLY|MS_NOSUID|MS_REC|0x80000000" {
		t.Errorf("FlagString = %q", got)
	}
	base := errors.New("invalid argument")
	e := &MountError{Op: "mount", Source: "overlay", Target: "/m", FSType: "overlay", Flags: 0x1, Data: "lowerdir=/a", Err: base}
	if got, want := e.Error(), `mount -t overlay overlay "/m" flags=MS_RDONLY data="lowerdir=/a": invalid argument`; got != want {
		t.Errorf("Error = %q\nwant    %q", got, want)
	}
	if !errors.Is(e, base) {
		t.Error("MountError does not unwrap to its errno")
	}
}
