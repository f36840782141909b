package container

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCapMaskDefault(t *testing.T) {
	m, err := CapMask(DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	// The CapEff runc and docker containers show: 00000000a80425fb.
	if m != 0xa80425fb {
		t.Errorf("default mask %x, want a80425fb", m)
	}
	if got := CapNames(m); len(got) != 14 {
		t.Errorf("CapNames: %q", got)
	}
}

func TestAdjustCaps(t *testing.T) {
	got, err := AdjustCaps(DefaultCapabilities, []string{"net_admin"}, []string{"CAP_CHOWN", "mknod"})
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Join(got, " ")
	if !strings.Contains(s, "CAP_NET_ADMIN") || strings.Contains(s, "CAP_CHOWN") || strings.Contains(s, "CAP_MKNOD") || len(got) != 13 {
		t.Errorf("got %q", got)
	}
	if _, err := AdjustCaps(nil, []string{"CAP_BOGUS"}, nil); err == nil {
		t.Error("unknown capability accepted")
	}
}

func TestParseVolume(t *testing.T) {
	m, err := ParseVolume("/a/../b:/data:ro")
	if err != nil || m != (Mount{Source: "/b", Destination: "/data", ReadOnly: true}) {
		t.Errorf("got %+v, %v", m, err)
	}
	for _, bad := range []string{"/a", "a:/b", "/a:/b:rx", ":/b"} {
		if _, err := ParseVolume(bad); err == nil {
			t.Errorf("ParseVolume(%q) accepted", bad)
		}
	}
}

func TestParseEnvFileAndMerge(t *testing.T) {
	env, err := ParseEnvFile(strings.NewReader("# c\n\nA=1\nB\n"))
	if err != nil || !reflect.DeepEqual(env, []string{"A=1", "B"}) {
		t.Fatalf("got %q, %v", env, err)
	}
	if got := MergeEnv([]string{"PATH=/bin", "A=0"}, []string{"A=1", "C=2"}); !reflect.DeepEqual(got, []string{"PATH=/bin", "A=1", "C=2"}) {
		t.Errorf("MergeEnv: %q", got)
	}
}

func TestResolveUser(t *testing.T) {
	dir := t.TempDir()
	pw, gr := filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	os.WriteFile(pw, []byte("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o644)
	os.WriteFile(gr, []byte("root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n"), 0o644)
	for spec, want := range map[string]ExecUser{
		"":            {UID: 0, GID: 0, Home: "/root"},
		"alice":       {UID: 1000, GID: 1000, Groups: []int{10, 29}, Home: "/home/alice"},
		"1000":        {UID: 1000, GID: 1000, Groups: []int{10, 29}, Home: "/home/alice"},
		"alice:wheel": {UID: 1000, GID: 10, Home: "/home/alice"},
		"4242:7":      {UID: 4242, GID: 7, Home: "/"},
	} {
		got, err := ResolveUser(spec, pw, gr)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("ResolveUser(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	if _, err := ResolveUser("mallory", pw, gr); err == nil {
		t.Error("unknown user accepted")
	}
}

func TestSecureJoin(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a/b"), 0o755)
	os.Symlink("/etc", filepath.Join(root, "a/abs"))
	os.Symlink("../../../../..", filepath.Join(root, "a/up"))
	for in, want := range map[string]string{
		"/a/b":         "/a/b",
		"/a/abs/x":     "/etc/x",
		"/a/up/etc":    "/etc",
		"../../x":      "/x",
		"/a/missing/y": "/a/missing/y",
	} {
		got, err := secureJoin(root, in)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("secureJoin(%q) = %q, %v; want %q", in, got, err, filepath.Join(root, want))
		}
	}
}

func TestStoreCreateSaveGet(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "c"))
	cfg := NewConfig("/rootfs", "sh")
	cfg.Name = "one"
	cfg.Resources = []Resource{{Kind: "mount", Path: "/x"}}
	st, err := s.Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ID) != 12 || cfg.Hostname != st.ID {
		t.Errorf("id %q hostname %q", st.ID, cfg.Hostname)
	}
	if _, err := s.Create(&Config{Name: "one", Rootfs: "/r", Args: []string{"sh"}}); err == nil {
		t.Error("duplicate name accepted")
	}
	if err := s.Track(st.ID, Resource{Kind: "veth", Name: "ctrlabv0"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.read(st.ID)
	if err != nil || len(got.Config.Resources) != 2 || got.Status != Creating {
		t.Errorf("read back %+v, %v", got, err)
	}
	ents, _ := os.ReadDir(s.Dir(st.ID))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".state-") {
			t.Errorf("temp file left: %s", e.Name())
		}
	}
}

func TestReleaseAllReverseAndJoined(t *testing.T) {
	var order []string
	RegisterKind("test-a", Handler{Release: func(r Resource) error { order = append(order, r.Name); return nil }})
	err := ReleaseAll([]Resource{{Kind: "test-a", Name: "1"}, {Kind: "test-unknown"}, {Kind: "test-a", Name: "2"}})
	if !reflect.DeepEqual(order, []string{"2", "1"}) {
		t.Errorf("order %q, want reverse", order)
	}
	if err == nil || !strings.Contains(err.Error(), "test-unknown") {
		t.Errorf("err %v, want the unknown kind reported", err)
	}
}
