package cli

import (
	"github.com/spf13/cobra"
)

// New builds the ctrlab command tree. Each command lives in its own file as
// newXxxCmd(app, runF); the runF hook lets tests check flag parsing without
// touching the kernel.
func New(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "ctrlab",
		Short: "Build a container piece by piece on your own kernel, and see every piece",
		Long: `ctrlab builds a container the way a runtime does — chroot, namespaces, cgroups,
overlay layers, a veth cable to a bridge, an image pulled from a registry — one
step at a time, with real syscalls. After each step it prints the kernel state
that step created (namespace inodes, cgroup files, mountinfo lines, links and
routes, layer digests), so you can see what a container really is.

Start with 'ctrlab doctor' to see what your kernel supports, then follow the
steps in order, or take a lesson: 'ctrlab lesson'.

Exit status: 0 ok, 1 error, 2 usage error, 3 a lab check failed; 'ctrlab run'
exits with the status of the contained process.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetIn(app.In)
	root.SetOut(app.Out)
	root.SetErr(app.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })

	root.AddGroup(
		&cobra.Group{ID: "look", Title: "Look at the kernel:"},
		&cobra.Group{ID: "steps", Title: "Build a container, one step at a time:"},
		&cobra.Group{ID: "images", Title: "Images:"},
		&cobra.Group{ID: "containers", Title: "Run whole containers:"},
		&cobra.Group{ID: "learn", Title: "Learn and practise:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			if c == nil {
				continue
			}
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("look", newInspectCmd(app, nil), newDoctorCmd(app, nil))
	add("steps", newChrootCmd(app, nil), newUnshareCmd(app, nil), newCgroupCmd(app),
		newOverlayCmd(app), newNetCmd(app))
	add("images", imageCmds(app)...)
	add("containers", containerCmds(app)...)
	add("learn", append(learnCmds(app), labCmds(app)...)...)
	return root
}
