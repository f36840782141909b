package inspect_test

import (
	"fmt"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/inspect"
)

func ExampleDecodeCaps() {
	// CapEff of a process in a Docker container with the default set.
	fmt.Println(inspect.DecodeCaps(0x00000000a80425fb)[:4])
	// Output: [CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID]
}

func ExampleParseCgroups() {
	cg, _ := inspect.ParseCgroups(strings.NewReader("4:memory:/docker/abc\n0::/docker/abc\n"))
	for _, c := range cg {
		fmt.Printf("v%d %v %s\n", c.Version, c.Controllers, c.Path)
	}
	// Output:
	// v1 [memory] /docker/abc
	// v2 [] /docker/abc
}

func ExampleParseMountinfo() {
	m, _ := inspect.ParseMountinfo(strings.NewReader(
		"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"))
	fmt.Println(m[0].MountPoint, m[0].FSType, m[0].Propagation)
	// Output: /mnt2 ext3 slave
}
