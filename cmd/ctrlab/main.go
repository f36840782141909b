// Command ctrlab builds a container piece by piece on the learner's own kernel
// and prints the kernel state each piece creates.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctrlab/ctrlab/cmd/ctrlab/cli"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

func main() {
	// Re-exec entrypoints (ctrlab-init and friends) are chosen by argv[0]
	// and never reach cobra. This must stay the first statement.
	if reexec.Init() {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app := cli.NewApp()
	err := cli.New(app).ExecuteContext(ctx)
	stop()
	os.Exit(cli.ExitCode(app, err))
}
