package cli

import (
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/assemble"
	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/image"
)

// containerCmds are the whole-container commands: run, ps, exec, logs,
// stop, kill, rm.
func containerCmds(app *App) []*cobra.Command {
	return []*cobra.Command{
		newRunCmd(app, nil), newPsCmd(app, nil), newExecCmd(app, nil), newLogsCmd(app, nil),
		newStopCmd(app, nil), newKillCmd(app, nil), newRmCmd(app, nil),
	}
}

// defaultRoot is ctrlab's store root R: $CTRLAB_ROOT, else /var/lib/ctrlab.
// Images live in R/images, layers in R/layers, containers in
// R/containers, network state in R/net.
func defaultRoot() string { return image.DefaultRoot() }

// containerStore is the container state store under the store root.
func containerStore(root string) *container.Store {
	return container.NewStore(assemble.ContainersDir(rootOf(root)))
}

// addRootFlag binds --root, shared by every container command.
func addRootFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "root", defaultRoot(), "ctrlab's store: images, layers and container state (env CTRLAB_ROOT)")
}

// containerPID resolves a container name to the host PID of its init, for
// `ctrlab inspect NAME`. The store root comes from $CTRLAB_ROOT.
func containerPID(app *App, name string) (int, error) {
	st, err := containerStore(defaultRoot()).Get(name)
	if err != nil {
		return 0, flagErrorf("%q is not a PID, \"self\" or a container name", name)
	}
	if st.Status != container.Running || st.Pid == 0 {
		return 0, fmt.Errorf("container %s is %s: no process to inspect", st.Name, st.Status)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(st.Pid)); err != nil {
		return 0, fmt.Errorf("container %s: its PID %d is gone", st.Name, st.Pid)
	}
	return st.Pid, nil
}
