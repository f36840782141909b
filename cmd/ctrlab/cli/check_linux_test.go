package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// TestCheckWatchRechecks: with --watch on a lab that is not done, check
// grades again every interval until stopped, then prints the last report
// and exits 3.
func TestCheckWatchRechecks(t *testing.T) {
	testutil.RequireRoot(t)
	app, out, errOut := testApp()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := checkRun(ctx, app, &checkOptions{Name: "pid-uts", Format: "text", Watch: true, Interval: 50 * time.Millisecond})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitCheckFails {
		t.Fatalf("err = %v, want exit %d", err, ExitCheckFails)
	}
	if n := strings.Count(errOut.String(), "checking again"); n < 2 {
		t.Errorf("re-checked %d times in 1 s at a 50 ms interval, want >= 2; stderr %q", n, errOut.String())
	}
	if !strings.Contains(out.String(), "score: 0/3") {
		t.Errorf("no final report on stdout: %q", out.String())
	}
}
