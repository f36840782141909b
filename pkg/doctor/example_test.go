package doctor_test

import (
	"fmt"
	"testing/fstest"

	"github.com/ctrlab/ctrlab/pkg/doctor"
)

func ExampleRun() {
	// A cgroup-v2 machine described by fixtures instead of the live system.
	r := doctor.Run(
		doctor.WithFS(fstest.MapFS{
			"sys/fs/cgroup/cgroup.controllers": {Data: []byte("cpuset cpu io memory pids\n")},
			"proc/filesystems":                 {Data: []byte("nodev\toverlay\n")},
			"proc/self/ns/user":                {},
			"proc/self/ns/time":                {},
		}),
		doctor.WithStatfs(func(string) (int64, error) { return doctor.Cgroup2Magic, nil }),
		doctor.WithUname(func() (doctor.Uname, error) { return doctor.Uname{Machine: "x86_64", Release: "6.8.0"}, nil }),
		doctor.WithEuid(0),
		doctor.WithLookPath(func(s string) (string, error) { return "/usr/sbin/" + s, nil }),
		doctor.WithArch("amd64", ""),
	)
	fmt.Println(r.CgroupMode, r.Controllers, r.Failed())
	for _, c := range r.Checks[3:5] {
		fmt.Println(c.Status, c.Name)
	}
	// Output:
	// v2 [cpu cpuset io memory pids] false
	// OK cgroup mode
	// OK cgroup controllers
}
