package assemble

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/cgroup"
	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/netsetup"
)

func TestPlan(t *testing.T) {
	cfg := container.NewConfig("", "sh")
	err := Plan(cfg, []string{"/l/bottom", "/l/mid", "/l/top"}, Options{
		Root: "/r", Limits: cgroup.Resources{PidsMax: 5}, Network: "bridge",
		Bridge: netsetup.BridgeOptions{Name: "ctrlabt0"}, Ports: []netsetup.PortMapping{{HostPort: 8080, CtrPort: 80, Proto: "tcp"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ID) != 12 || cfg.Rootfs != filepath.Join("/r/containers", cfg.ID, "rootfs") {
		t.Fatalf("id %q rootfs %q", cfg.ID, cfg.Rootfs)
	}
	var kinds []string
	for _, r := range cfg.Resources {
		kinds = append(kinds, r.Kind)
	}
	if strings.Join(kinds, ",") != "overlay,cgroup,veth" {
		t.Fatalf("resources %v: want overlay, cgroup, veth (released in reverse)", kinds)
	}
	ov := cfg.Resources[0]
	if ov.Data["lowers"] != "/l/top\n/l/mid\n/l/bottom" {
		t.Errorf("lowers %q: overlay wants the top layer first", ov.Data["lowers"])
	}
	if ov.Data["upper"] != filepath.Join("/r/containers", cfg.ID, "upper") {
		t.Errorf("upper %q", ov.Data["upper"])
	}
	if cg := cfg.Resources[1]; cg.Name != "ctrlab-"+cfg.ID || !strings.Contains(cg.Data["limits"], `"pidsMax":5`) {
		t.Errorf("cgroup resource %+v", cg)
	}
	if v := cfg.Resources[2]; v.Name != cfg.ID || v.Data["stateDir"] != "/r/net" || v.Data["ports"] != "8080:80/tcp" || v.Data["bridge"] != "ctrlabt0" {
		t.Errorf("veth resource %+v", v)
	}
	if err := Plan(container.NewConfig("/x", "sh"), nil, Options{Root: "/r", Network: "none", Ports: []netsetup.PortMapping{{HostPort: 1, CtrPort: 1}}}); err == nil {
		t.Error("ports without a bridge must be refused")
	}
}
