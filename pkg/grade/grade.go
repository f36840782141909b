package grade

import (
	"context"
	"fmt"
	"time"
)

// Kinds lists every check kind the grader knows, with what it reads.
var Kinds = map[string]string{
	"process":       "a process with exactly this command line exists (/proc/PID/cmdline)",
	"process-ns":    "the process is in new namespaces of the listed kinds (/proc/PID/ns/* differ from the host's)",
	"process-pid1":  "the process is PID 1 of its own PID namespace (NSpid in /proc/PID/status)",
	"hostname":      "the hostname seen inside the process's UTS namespace (setns + uname)",
	"process-root":  "the process's root directory (/proc/PID/root)",
	"pivot-root":    "the process's root is the root of its mount namespace: pivot_root, not chroot (setns + stat)",
	"file-in-ns":    "a file seen through the process's mount namespace (/proc/PID/root/PATH), absent on the host; {pid} in contains is the host PID",
	"cgroup":        "a real cgroup exists at this path (statfs of cgroupfs, not a plain directory)",
	"cgroup-limit":  "the cgroup's limit file holds this value (memory.max / memory.limit_in_bytes, pids.max); with a process, its own cgroup",
	"cgroup-member": "the process is a member of the cgroup (/proc/PID/cgroup)",
	"netns":         "a named network namespace exists (/run/netns/NAME is an nsfs mount)",
	"link":          "a link exists in a netns with a type, state up, and master (netlink)",
	"addr":          "a link carries an address (netlink)",
	"route-default": "the netns has a default route via this gateway (netlink)",
	"veth-peer":     "two veth ends are each other's peer (netlink peer ifindex)",
	"ping":          "an ICMP echo from inside the netns to an address is answered (raw socket)",
	"masquerade":    "a MASQUERADE rule for the subnet exists in the nat table (iptables -t nat -S)",
	"sysctl":        "a sysctl holds this value (/proc/sys)",
	"mount":         "a mount of this fstype at this path with these options (/proc/self/mountinfo)",
	"copy-up":       "overlay copy-up: the file is in upper, different from lower, and lower is unchanged",
	"whiteout":      "overlay whiteout: upper holds a 0/0 device for the file and merged no longer shows it",
	"neigh":         "the host's neighbour table holds the process's eth0 address with a MAC (netlink): the host talked to it",
	"same-lowers":   "an overlay mounted at a path whose lower layers are exactly those of the process's root overlay (mountinfo)",
}

// CheckResult is the verdict of one check.
type CheckResult struct {
	Kind     string `json:"kind"`
	Pass     bool   `json:"pass"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
}

// TaskResult is the verdict of one task: it passes when all its checks pass.
type TaskResult struct {
	ID     string        `json:"id"`
	Title  string        `json:"title"`
	Pass   bool          `json:"pass"`
	Hint   string        `json:"hint,omitempty"`
	Checks []CheckResult `json:"checks"`
}

// Report is the result of grading one lab.
type Report struct {
	Lab      string        `json:"lab"`
	Title    string        `json:"title"`
	Tasks    []TaskResult  `json:"tasks"`
	Passed   int           `json:"passed"`
	Total    int           `json:"total"`
	Score    float64       `json:"score"` // passed/total, 0..1
	Duration time.Duration `json:"durationNs"`
	Time     time.Time     `json:"time"`
}

// AllPassed reports whether every task passed.
func (r *Report) AllPassed() bool { return r.Passed == r.Total }

// Grade evaluates every check of every task against the live kernel.
func Grade(ctx context.Context, l *Lab) *Report {
	start := time.Now()
	r := &Report{Lab: l.Name, Title: l.Title, Total: len(l.Tasks), Time: start.UTC()}
	for _, t := range l.Tasks {
		tr := TaskResult{ID: t.ID, Title: t.Title, Pass: true}
		for _, c := range t.Checks {
			cr := evaluate(ctx, c)
			tr.Checks = append(tr.Checks, cr)
			if !cr.Pass {
				tr.Pass = false
			}
		}
		if tr.Pass {
			r.Passed++
		} else {
			tr.Hint = t.Hint
		}
		r.Tasks = append(r.Tasks, tr)
	}
	if r.Total > 0 {
		r.Score = float64(r.Passed) / float64(r.Total)
	}
	r.Duration = time.Since(start)
	return r
}

func evaluate(ctx context.Context, c Check) CheckResult {
	fn, ok := evaluators[c.Kind]
	if !ok {
		return CheckResult{Kind: c.Kind, Expected: "a known check kind", Found: fmt.Sprintf("%q", c.Kind)}
	}
	res := fn(ctx, c)
	res.Kind = c.Kind
	return res
}
