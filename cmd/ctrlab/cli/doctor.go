package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/doctor"
)

type doctorOptions struct {
	JSON bool
}

// newDoctorCmd checks what this machine offers ctrlab.
func newDoctorCmd(app *App, runF func(*doctorOptions) error) *cobra.Command {
	opts := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what this kernel supports",
		Long: `Check the prerequisites for every ctrlab step, one row each, with OK, WARN
or FAIL and how to fix what is missing:

  architecture        the binary's GOARCH (and GOARM) against uname -m
  kernel version      uname -r: 4.6+ required, 5.6+ for time namespaces
  running as root     most steps create namespaces, cgroups and mounts
  cgroup mode         statfs(2) of /sys/fs/cgroup: cgroup2 magic = v2; tmpfs =
                      v1, or hybrid when /sys/fs/cgroup/unified is cgroup2
  cgroup controllers  v2: /sys/fs/cgroup/cgroup.controllers; v1: enabled in
                      /proc/cgroups and mounted (/proc/self/mountinfo)
  overlayfs           /proc/filesystems, or the module in /lib/modules/$(uname -r)
  user namespaces     sysctl user.max_user_namespaces,
                      kernel.unprivileged_userns_clone and
                      kernel.apparmor_restrict_unprivileged_userns where present
  time namespace      /proc/self/ns/time exists (Linux 5.6+)
  iptables / nft      in PATH, for the network lessons' NAT
  raspberry pi        on a Pi, cgroup_enable=memory in /proc/cmdline

The same by hand: uname -rm; stat -fc %T /sys/fs/cgroup; cat /proc/cgroups;
grep overlay /proc/filesystems; sysctl user.max_user_namespaces;
ls /proc/self/ns; cat /proc/cmdline.

Exit status 1 when any row is FAIL (after printing the table).`,
		Example: `  ctrlab doctor
  ctrlab doctor --json | jq -r '.checks[] | select(.status != "OK") | .fix'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return doctorRun(app, opts, doctor.Run())
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the checks as JSON")
	return cmd
}

// doctorRun renders a report and returns errSilent when a row is FAIL.
func doctorRun(app *App, opts *doctorOptions, r *doctor.Report) error {
	if opts.JSON {
		if err := writeJSON(app.Out, r); err != nil {
			return err
		}
	} else {
		t := newTable(app.Out, "check", "status", "found", "fix")
		for _, c := range r.Checks {
			if err := t.row(c.Name, c.Status, c.Detail, c.Fix); err != nil {
				return err
			}
		}
		if err := t.render(); err != nil {
			return err
		}
	}
	if r.Failed() {
		if !opts.JSON {
			fmt.Fprintln(app.ErrOut, "ctrlab doctor: some prerequisites FAIL; the steps that need them will not work")
		}
		return errSilent
	}
	return nil
}
