package netsetup

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// fwRule is one rule in ctrlab's own chains. The comment
// "ctrlab:<kind>:<owner>[:<port>]" identifies it: owner is a bridge or a
// host veth name, so rules are removed with the object they serve.
type fwRule struct {
	Table   string   // "nat" or "filter"
	Chain   string   // ctrlab chain (iptables name)
	Ipt     []string // iptables match/target args, without the comment
	Nft     string   // nft rule body, without the comment
	Comment string
}

// firewall is one backend: iptables (legacy or nf_tables flavour) or nft.
type firewall interface {
	Name() string
	// Ensure creates ctrlab's chains and the jumps to them (idempotent).
	Ensure() error
	// Add appends r unless a rule with its comment exists.
	Add(r fwRule) error
	// DeleteOwned deletes the rules whose comment names owner (and port,
	// when port is not empty).
	DeleteOwned(owner, port string) ([]Rule, error)
	// List returns every rule ctrlab owns, jumps included.
	List() ([]Rule, error)
	// Teardown deletes ctrlab's chains, the jumps and every rule in them.
	Teardown() ([]Rule, error)
	// Equiv is the command line that adds r.
	Equiv(r fwRule) string
}

// Chains ctrlab owns (iptables backend).
const (
	chainPost = "CTRLAB-POSTROUTING"
	chainDNAT = "CTRLAB-DNAT"
	chainFwd  = "CTRLAB-FORWARD"
	jumpTag   = "ctrlab:jump"
	nftTable  = "ctrlab"
)

func ruleComment(kind, owner, port string) string {
	c := "ctrlab:" + kind + ":" + owner
	if port != "" {
		c += ":" + port
	}
	return c
}

// ownedBy reports whether comment c names owner (and port, if given).
func ownedBy(c, owner, port string) bool {
	parts := strings.Split(c, ":")
	if len(parts) < 3 || parts[0] != "ctrlab" || parts[2] != owner {
		return false
	}
	return port == "" || (len(parts) >= 4 && parts[3] == port)
}

func detectFirewall(force string, h *Host) (firewall, error) {
	try := []string{"iptables", "nft"}
	if force != "" {
		try = []string{force}
	}
	for _, name := range try {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if name == "iptables" {
			save, err := exec.LookPath("iptables-save")
			if err != nil {
				continue
			}
			return &iptables{h: h, bin: path, save: save}, nil
		}
		return &nft{h: h, bin: path}, nil
	}
	if force != "" {
		return nil, fmt.Errorf("finding %s: %w", force, ErrNoFirewall)
	}
	return nil, fmt.Errorf("%w: install iptables (apt install iptables) to use NAT and published ports", ErrNoFirewall)
}

// run executes a firewall binary inside the host namespace.
func (h *Host) run(stdin string, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := h.inHost(func() error {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		return cmd.Run()
	})
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), &CmdError{Cmd: name + " " + strings.Join(args, " "), Msg: msg, Err: err}
	}
	return out.String(), nil
}

// CmdError is a firewall command that failed.
type CmdError struct {
	Cmd string
	Msg string
	Err error
}

func (e *CmdError) Error() string { return fmt.Sprintf("running %s: %s", e.Cmd, e.Msg) }
func (e *CmdError) Unwrap() error { return e.Err }

// --- iptables ---

type iptables struct {
	h         *Host
	bin, save string
}

func (f *iptables) Name() string { return "iptables" }

func (f *iptables) ipt(args ...string) (string, error) {
	return f.h.run("", f.bin, append([]string{"-w", "5"}, args...)...)
}

var iptJumps = []struct {
	table, chain, target string
	match                []string
	insert               bool
}{
	{"nat", "POSTROUTING", chainPost, nil, false},
	{"nat", "PREROUTING", chainDNAT, []string{"-m", "addrtype", "--dst-type", "LOCAL"}, false},
	{"nat", "OUTPUT", chainDNAT, []string{"-m", "addrtype", "--dst-type", "LOCAL"}, false},
	{"filter", "FORWARD", chainFwd, nil, true},
}

func (f *iptables) Ensure() error {
	for _, c := range []struct{ table, chain string }{{"nat", chainPost}, {"nat", chainDNAT}, {"filter", chainFwd}} {
		if _, err := f.ipt("-t", c.table, "-S", c.chain); err != nil {
			if _, err := f.ipt("-t", c.table, "-N", c.chain); err != nil {
				// Another process may have created it meanwhile.
				if _, err2 := f.ipt("-t", c.table, "-S", c.chain); err2 != nil {
					return fmt.Errorf("creating chain %s/%s: %w", c.table, c.chain, err)
				}
			}
		}
	}
	for _, j := range iptJumps {
		spec := append(append([]string{}, j.match...), "-m", "comment", "--comment", jumpTag, "-j", j.target)
		if _, err := f.ipt(append([]string{"-t", j.table, "-C", j.chain}, spec...)...); err == nil {
			continue
		}
		op := "-A"
		if j.insert {
			op = "-I"
		}
		if _, err := f.ipt(append([]string{"-t", j.table, op, j.chain}, spec...)...); err != nil {
			return fmt.Errorf("adding jump %s -> %s: %w", j.chain, j.target, err)
		}
	}
	return nil
}

func (f *iptables) spec(r fwRule) []string {
	return append(append([]string{}, r.Ipt...), "-m", "comment", "--comment", r.Comment)
}

func (f *iptables) Add(r fwRule) error {
	if _, err := f.ipt(append([]string{"-t", r.Table, "-C", r.Chain}, f.spec(r)...)...); err == nil {
		return nil
	}
	if _, err := f.ipt(append([]string{"-t", r.Table, "-A", r.Chain}, f.spec(r)...)...); err != nil {
		return fmt.Errorf("adding firewall rule %q: %w", r.Comment, err)
	}
	return nil
}

func (f *iptables) Equiv(r fwRule) string {
	return "iptables -t " + r.Table + " -A " + r.Chain + " " + shellJoin(f.spec(r))
}

// List reads iptables-save for the nat and filter tables and keeps the
// rules in ctrlab's chains and the jumps to them.
func (f *iptables) List() ([]Rule, error) {
	var rules []Rule
	for _, table := range []string{"nat", "filter"} {
		out, err := f.h.run("", f.save, "-t", table)
		if err != nil {
			return nil, fmt.Errorf("listing %s rules: %w", table, err)
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "-A ") {
				continue
			}
			args := shellSplit(line)
			if len(args) < 2 {
				continue
			}
			chain := args[1]
			comment := argAfter(args, "--comment")
			if strings.HasPrefix(chain, "CTRLAB-") || strings.HasPrefix(comment, "ctrlab:") {
				rules = append(rules, Rule{Table: table, Chain: chain, Rule: line, Comment: comment})
			}
		}
	}
	return rules, nil
}

func (f *iptables) del(r Rule) error {
	args := shellSplit(r.Rule)
	args[0] = "-D"
	_, err := f.ipt(append([]string{"-t", r.Table}, args...)...)
	return err
}

func (f *iptables) DeleteOwned(owner, port string) ([]Rule, error) {
	rules, err := f.List()
	if err != nil {
		return nil, err
	}
	var gone []Rule
	var errs []error
	for _, r := range rules {
		if !ownedBy(r.Comment, owner, port) {
			continue
		}
		if err := f.del(r); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, r)
	}
	return gone, errors.Join(errs...)
}

func (f *iptables) Teardown() ([]Rule, error) {
	rules, err := f.List()
	if err != nil {
		return nil, err
	}
	var gone []Rule
	var errs []error
	for _, r := range rules {
		if r.Comment != jumpTag {
			continue
		}
		if err := f.del(r); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, r)
	}
	for _, r := range rules {
		if r.Comment != jumpTag {
			gone = append(gone, r)
		}
	}
	for _, c := range []struct{ table, chain string }{{"nat", chainPost}, {"nat", chainDNAT}, {"filter", chainFwd}} {
		if _, err := f.ipt("-t", c.table, "-S", c.chain); err != nil {
			continue // no such chain
		}
		if _, err := f.ipt("-t", c.table, "-F", c.chain); err != nil {
			errs = append(errs, err)
		}
		if _, err := f.ipt("-t", c.table, "-X", c.chain); err != nil {
			errs = append(errs, err)
		}
	}
	return gone, errors.Join(errs...)
}

// --- nft ---

// nft keeps everything in one table "ip ctrlab" with its own base chains,
// so teardown is `nft delete table ip ctrlab`. Note: an accept in this
// table's forward chain does not override a drop in another table.
type nft struct {
	h   *Host
	bin string
}

func (f *nft) Name() string { return "nft" }

var nftChain = map[string]string{chainPost: "postrouting", chainDNAT: "dnat", chainFwd: "forward"}

func (f *nft) Ensure() error {
	script := `add table ip ctrlab
add chain ip ctrlab postrouting { type nat hook postrouting priority srcnat; }
add chain ip ctrlab prerouting { type nat hook prerouting priority dstnat; }
add chain ip ctrlab output { type nat hook output priority -100; }
add chain ip ctrlab forward { type filter hook forward priority filter; }
add chain ip ctrlab dnat
`
	if _, err := f.h.run(script, f.bin, "-f", "-"); err != nil {
		return fmt.Errorf("creating nft table ip ctrlab: %w", err)
	}
	rules, err := f.List()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, r := range rules {
		if r.Comment == jumpTag {
			have[r.Chain] = true
		}
	}
	for _, c := range []string{"prerouting", "output"} {
		if !have[c] {
			if _, err := f.h.run("", f.bin, "add", "rule", "ip", nftTable, c, "fib", "daddr", "type", "local", "jump", "dnat", "comment", `"`+jumpTag+`"`); err != nil {
				return fmt.Errorf("adding nft jump %s -> dnat: %w", c, err)
			}
		}
	}
	return nil
}

func (f *nft) ruleText(r fwRule) string {
	return "add rule ip ctrlab " + nftChain[r.Chain] + " " + r.Nft + ` comment "` + r.Comment + `"`
}

func (f *nft) Add(r fwRule) error {
	rules, err := f.List()
	if err != nil {
		return err
	}
	for _, x := range rules {
		if x.Comment == r.Comment {
			return nil
		}
	}
	if _, err := f.h.run(f.ruleText(r)+"\n", f.bin, "-f", "-"); err != nil {
		return fmt.Errorf("adding firewall rule %q: %w", r.Comment, err)
	}
	return nil
}

func (f *nft) Equiv(r fwRule) string { return "nft '" + f.ruleText(r) + "'" }

// List parses `nft -a list table ip ctrlab`; Rule.Rule ends with the
// "# handle N" needed to delete it.
func (f *nft) List() ([]Rule, error) {
	out, err := f.h.run("", f.bin, "-a", "list", "table", "ip", nftTable)
	if err != nil {
		return nil, nil // no table: no rules
	}
	var rules []Rule
	chain := ""
	for _, line := range strings.Split(out, "\n") {
		s := strings.TrimSpace(line)
		if strings.HasPrefix(s, "chain ") {
			chain = strings.Fields(s)[1]
			continue
		}
		if !strings.Contains(s, "# handle") || strings.HasPrefix(s, "table ") || strings.HasPrefix(s, "type ") || chain == "" {
			continue
		}
		if strings.HasPrefix(s, "chain") || s == "}" {
			continue
		}
		rules = append(rules, Rule{Table: "ip ctrlab", Chain: chain, Rule: s, Comment: argAfter(shellSplit(s), "comment")})
	}
	return rules, nil
}

func (f *nft) DeleteOwned(owner, port string) ([]Rule, error) {
	rules, err := f.List()
	if err != nil {
		return nil, err
	}
	var gone []Rule
	var errs []error
	for _, r := range rules {
		if !ownedBy(r.Comment, owner, port) {
			continue
		}
		i := strings.LastIndex(r.Rule, "# handle ")
		handle := strings.TrimSpace(r.Rule[i+len("# handle "):])
		if _, err := f.h.run("", f.bin, "delete", "rule", "ip", nftTable, r.Chain, "handle", handle); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, r)
	}
	return gone, errors.Join(errs...)
}

func (f *nft) Teardown() ([]Rule, error) {
	rules, err := f.List()
	if err != nil || len(rules) == 0 {
		if _, err := f.h.run("", f.bin, "list", "table", "ip", nftTable); err != nil {
			return nil, nil
		}
	}
	if _, err := f.h.run("", f.bin, "delete", "table", "ip", nftTable); err != nil {
		return nil, fmt.Errorf("deleting nft table ip ctrlab: %w", err)
	}
	return rules, nil
}

// --- helpers ---

// shellSplit splits an iptables-save/nft line into words, honouring
// double quotes (comments are printed quoted).
func shellSplit(s string) []string {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQ && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQ, have = !inQ, true
		case (c == ' ' || c == '\t') && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

func argAfter(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \"'!*$") {
			q[i] = "'" + a + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
