package netsetup

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"sort"
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
	// Check reads the ruleset once and reports whether ctrlab's chains,
	// the jumps to them and every rule of rules are present as given (no
	// change is made). It is the per-container fast path: one process.
	Check(rules []fwRule) (bool, error)
	// Ensure creates ctrlab's chains and the jumps to them and adds the
	// rules that are missing, replacing a rule that carries the comment
	// of one of rules but differs from it (a stale rule). It reads the
	// ruleset once and writes what is missing in one batch where the
	// backend allows (iptables-restore --noflush, nft -f). Idempotent.
	Ensure(rules []fwRule) error
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
			restore, _ := exec.LookPath("iptables-restore") // optional: batches the writes
			return &iptables{h: h, bin: path, save: save, restore: restore}, nil
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
	if h.runHook != nil {
		h.runHook(name, args)
	}
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
	h                  *Host
	bin, save, restore string
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

// iptWant is one rule ctrlab needs: a jump from a builtin chain or a
// rule in a ctrlab chain, as iptables arguments after "-A CHAIN".
type iptWant struct {
	table, chain string
	args         []string
	insert       bool
	comment      string // unique comment (empty for the shared jump tag)
}

func (f *iptables) wants(rules []fwRule) []iptWant {
	var w []iptWant
	for _, j := range iptJumps {
		spec := append(append([]string{}, j.match...), "-m", "comment", "--comment", jumpTag, "-j", j.target)
		w = append(w, iptWant{table: j.table, chain: j.chain, args: spec, insert: j.insert})
	}
	for _, r := range rules {
		w = append(w, iptWant{table: r.Table, chain: r.Chain, args: f.spec(r), comment: r.Comment})
	}
	return w
}

// iptRuleset is one read of `iptables-save` (every table, one process):
// the chains of each table and the "-A" lines of each chain.
type iptRuleset struct {
	chains map[string]bool     // "nat/CTRLAB-DNAT"
	lines  map[string][]string // "nat/CTRLAB-DNAT" -> "-A CTRLAB-DNAT ..." lines
}

func (f *iptables) read() (*iptRuleset, error) {
	out, err := f.h.run("", f.save)
	if err != nil {
		return nil, fmt.Errorf("reading the firewall rules: %w", err)
	}
	return parseIptablesSave(out), nil
}

func parseIptablesSave(out string) *iptRuleset {
	rs := &iptRuleset{chains: map[string]bool{}, lines: map[string][]string{}}
	table := ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			table = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, ":"):
			if f := strings.Fields(line[1:]); len(f) > 0 {
				rs.chains[table+"/"+f[0]] = true
			}
		case strings.HasPrefix(line, "-A "):
			if f := strings.Fields(line); len(f) > 1 {
				rs.lines[table+"/"+f[1]] = append(rs.lines[table+"/"+f[1]], line)
			}
		}
	}
	return rs
}

// iptNormal turns iptables arguments into a comparable form: iptables-save
// adds the implicit "-m tcp" of "-p tcp --dport" and prints host addresses
// as /32, and orders matches its own way; the words are sorted.
func iptNormal(args []string) string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-m" && i+1 < len(args) {
			switch args[i+1] {
			case "tcp", "udp", "sctp", "udplite":
				i++
				continue
			}
		}
		if i > 0 && (args[i-1] == "-s" || args[i-1] == "-d") {
			a = strings.TrimSuffix(a, "/32")
		}
		out = append(out, a)
	}
	sort.Strings(out)
	return strings.Join(out, "\x00")
}

// iptPlan is what Ensure must change: chains to create, stale lines to
// delete, rules to add.
type iptPlan struct {
	chains []struct{ table, chain string }
	del    []Rule
	add    []iptWant
}

func (p *iptPlan) empty() bool { return len(p.chains) == 0 && len(p.del) == 0 && len(p.add) == 0 }

func (f *iptables) plan(rs *iptRuleset, rules []fwRule) *iptPlan {
	p := &iptPlan{}
	for _, c := range []struct{ table, chain string }{{"nat", chainPost}, {"nat", chainDNAT}, {"filter", chainFwd}} {
		if !rs.chains[c.table+"/"+c.chain] {
			p.chains = append(p.chains, c)
		}
	}
	for _, w := range f.wants(rules) {
		want := iptNormal(w.args)
		found := false
		for _, line := range rs.lines[w.table+"/"+w.chain] {
			args := shellSplit(line)[2:]
			if iptNormal(args) == want {
				found = true
				continue
			}
			if w.comment != "" && argAfter(args, "--comment") == w.comment {
				p.del = append(p.del, Rule{Table: w.table, Chain: w.chain, Rule: line, Comment: w.comment})
			}
		}
		if !found {
			p.add = append(p.add, w)
		}
	}
	return p
}

func (f *iptables) Check(rules []fwRule) (bool, error) {
	rs, err := f.read()
	if err != nil {
		return false, err
	}
	return f.plan(rs, rules).empty(), nil
}

func (f *iptables) Ensure(rules []fwRule) error {
	var err error
	// A concurrent writer (another state dir, another tool) may change the
	// rules between the read and the write; one retry re-reads them.
	for attempt := 0; attempt < 2; attempt++ {
		var rs *iptRuleset
		if rs, err = f.read(); err != nil {
			return err
		}
		if err = f.apply(f.plan(rs, rules)); err == nil {
			return nil
		}
	}
	return err
}

func (f *iptables) apply(p *iptPlan) error {
	// Chains are created with -N, never declared in a restore file: with
	// --noflush, declaring a chain that exists meanwhile flushes it.
	for _, c := range p.chains {
		if _, err := f.ipt("-t", c.table, "-N", c.chain); err != nil {
			if _, err2 := f.ipt("-t", c.table, "-S", c.chain); err2 != nil {
				return fmt.Errorf("creating chain %s/%s: %w", c.table, c.chain, err)
			}
		}
	}
	if len(p.del) == 0 && len(p.add) == 0 {
		return nil
	}
	if f.restore == "" { // no iptables-restore: one process per change
		for _, r := range p.del {
			if err := f.del(r); err != nil {
				return fmt.Errorf("deleting stale firewall rule %q: %w", r.Comment, err)
			}
		}
		for _, w := range p.add {
			op := "-A"
			if w.insert {
				op = "-I"
			}
			if _, err := f.ipt(append([]string{"-t", w.table, op, w.chain}, w.args...)...); err != nil {
				return fmt.Errorf("adding firewall rule %s %s: %w", w.chain, shellJoin(w.args), err)
			}
		}
		return nil
	}
	var b strings.Builder
	for _, table := range []string{"nat", "filter"} {
		var lines []string
		for _, r := range p.del {
			if r.Table == table {
				lines = append(lines, "-D"+strings.TrimPrefix(r.Rule, "-A"))
			}
		}
		for _, w := range p.add {
			if w.table != table {
				continue
			}
			op := "-A "
			if w.insert {
				op = "-I "
			}
			lines = append(lines, op+w.chain+" "+restoreJoin(w.args))
		}
		if len(lines) == 0 {
			continue
		}
		b.WriteString("*" + table + "\n" + strings.Join(lines, "\n") + "\nCOMMIT\n")
	}
	if _, err := f.h.run(b.String(), f.restore, "--wait=5", "--noflush"); err != nil {
		return fmt.Errorf("adding firewall rules: %w", err)
	}
	return nil
}

// restoreJoin quotes arguments for an iptables-restore line (double
// quotes, as iptables-save prints comments).
func restoreJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \"'\\") {
			q[i] = `"` + strings.ReplaceAll(strings.ReplaceAll(a, `\`, `\\`), `"`, `\"`) + `"`
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

func (f *iptables) spec(r fwRule) []string {
	return append(append([]string{}, r.Ipt...), "-m", "comment", "--comment", r.Comment)
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
	return deleteOwned(f.List, f.del, owner, port)
}

// deleteOwned deletes, one by one, the listed rules whose comment names
// owner (and port): the same walk for both backends, del being theirs.
func deleteOwned(list func() ([]Rule, error), del func(Rule) error, owner, port string) ([]Rule, error) {
	rules, err := list()
	if err != nil {
		return nil, err
	}
	var gone []Rule
	var errs []error
	for _, r := range rules {
		if !ownedBy(r.Comment, owner, port) {
			continue
		}
		if err := del(r); err != nil {
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

const nftBase = `add table ip ctrlab
add chain ip ctrlab postrouting { type nat hook postrouting priority srcnat; }
add chain ip ctrlab prerouting { type nat hook prerouting priority dstnat; }
add chain ip ctrlab output { type nat hook output priority -100; }
add chain ip ctrlab forward { type filter hook forward priority filter; }
add chain ip ctrlab dnat
`

// plan returns the nft script that adds what is missing ("" when
// nothing is): the table and chains (`add` is idempotent), the jumps to
// dnat and the rules, found by comment (nft prints rules in its own
// normalized form, so the comment is what identifies them).
func (f *nft) plan(rules []fwRule) (string, error) {
	have, chains, err := f.read()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range []string{"postrouting", "prerouting", "output", "forward", "dnat"} {
		if !chains[c] {
			b.WriteString(nftBase)
			break
		}
	}
	jumps := map[string]bool{}
	comments := map[string]bool{}
	for _, r := range have {
		if r.Comment == jumpTag {
			jumps[r.Chain] = true
		}
		comments[r.Chain+"/"+r.Comment] = true
	}
	for _, c := range []string{"prerouting", "output"} {
		if !jumps[c] {
			b.WriteString("add rule ip ctrlab " + c + ` fib daddr type local jump dnat comment "` + jumpTag + "\"\n")
		}
	}
	for _, r := range rules {
		if !comments[nftChain[r.Chain]+"/"+r.Comment] {
			b.WriteString(f.ruleText(r) + "\n")
		}
	}
	return b.String(), nil
}

func (f *nft) Check(rules []fwRule) (bool, error) {
	script, err := f.plan(rules)
	return script == "" && err == nil, err
}

func (f *nft) Ensure(rules []fwRule) error {
	script, err := f.plan(rules)
	if err != nil || script == "" {
		return err
	}
	if _, err := f.h.run(script, f.bin, "-f", "-"); err != nil {
		return fmt.Errorf("adding nft table ip ctrlab and its rules: %w", err)
	}
	return nil
}

func (f *nft) ruleText(r fwRule) string {
	return "add rule ip ctrlab " + nftChain[r.Chain] + " " + r.Nft + ` comment "` + r.Comment + `"`
}

func (f *nft) Equiv(r fwRule) string { return "nft '" + f.ruleText(r) + "'" }

// List parses `nft -a list table ip ctrlab`; Rule.Rule ends with the
// "# handle N" needed to delete it.
func (f *nft) List() ([]Rule, error) {
	rules, _, err := f.read()
	return rules, err
}

// read lists the table once: its rules and the names of its chains.
func (f *nft) read() ([]Rule, map[string]bool, error) {
	chains := map[string]bool{}
	out, err := f.h.run("", f.bin, "-a", "list", "table", "ip", nftTable)
	if err != nil {
		return nil, chains, nil // no table: no rules
	}
	var rules []Rule
	chain := ""
	for _, line := range strings.Split(out, "\n") {
		s := strings.TrimSpace(line)
		if strings.HasPrefix(s, "chain ") {
			chain = strings.Fields(s)[1]
			chains[chain] = true
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
	return rules, chains, nil
}

func (f *nft) DeleteOwned(owner, port string) ([]Rule, error) {
	return deleteOwned(f.List, f.del, owner, port)
}

// del deletes one rule by the handle `nft -a list` printed after it.
func (f *nft) del(r Rule) error {
	i := strings.LastIndex(r.Rule, "# handle ")
	handle := strings.TrimSpace(r.Rule[i+len("# handle "):])
	_, err := f.h.run("", f.bin, "delete", "rule", "ip", nftTable, r.Chain, "handle", handle)
	return err
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
