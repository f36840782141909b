package grade

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrlab/ctrlab/labs"
)

func TestEmbeddedLabsValidate(t *testing.T) {
	all, err := Load(labs.FS)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"chroot-jail", "pid-uts", "netns-veth", "bridge-nat", "cgroup-memory", "overlay-by-hand", "container-by-hand"}
	for _, w := range want {
		if _, err := Find(all, w); err != nil {
			t.Errorf("lab %s: %v", w, err)
		}
	}
	for _, l := range all {
		for _, task := range l.Tasks {
			for _, c := range task.Checks {
				if strings.Contains(c.Kind, "process") && c.Process == "" {
					t.Errorf("%s/%s: %s check without a process", l.Name, task.ID, c.Kind)
				}
			}
		}
	}
}

func TestValidateRefusesUnsafeReset(t *testing.T) {
	for _, r := range []ResetSpec{
		{Netns: []string{"default"}},
		{Links: []string{"eth0"}},
		{Paths: []string{"/"}},
		{Paths: []string{"/tmp/../etc/ctrlab-lab"}},
		{Cgroups: []string{"system.slice"}},
		{Iptables: []string{"-t nat -A POSTROUTING -j MASQUERADE"}},
	} {
		l := &Lab{Name: "x", Title: "x", Goal: "x", Solution: "true", Reset: r,
			Tasks: []Task{{ID: "a", Title: "a", Text: "a", Hint: "a", Checks: []Check{{Kind: "process", Process: "x"}}}}}
		if err := l.Validate(); !errors.Is(err, ErrUnsafeReset) {
			t.Errorf("reset %+v: err = %v, want ErrUnsafeReset", r, err)
		}
	}
}

func TestParseRejectsUnknownFieldsAndKinds(t *testing.T) {
	base := "name: x\ntitle: x\ngoal: x\nsolution: 'true'\ntasks:\n  - {id: a, title: a, text: a, hint: a, checks: [{kind: %s}]}\n"
	if _, err := Parse([]byte(strings.Replace(base, "%s", "telepathy", 1))); !errors.Is(err, ErrUnknownCheck) {
		t.Errorf("unknown kind: err = %v", err)
	}
	if _, err := Parse([]byte(strings.Replace(base, "%s", "process", 1) + "colour: blue\n")); !errors.Is(err, ErrInvalidLab) {
		t.Errorf("unknown field: err = %v", err)
	}
}

func sampleReport() *Report {
	return &Report{Lab: "demo", Title: "Demo", Total: 2, Passed: 1, Score: 0.5,
		Time: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC), Duration: 1500 * time.Millisecond,
		Tasks: []TaskResult{
			{ID: "a", Title: "First # task", Pass: true, Checks: []CheckResult{{Kind: "process", Pass: true, Expected: "x", Found: "x"}}},
			{ID: "b", Title: "Second <task> & \"more\"", Hint: "try: harder\nreally", Checks: []CheckResult{{Kind: "hostname", Expected: `hostname "lab"`, Found: `hostname "box"`}}},
		}}
}

// TestTAPParses feeds the TAP output to Perl's TAP::Parser (core Perl).
func TestTAPParses(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl not installed: cannot run TAP::Parser")
	}
	var b bytes.Buffer
	if err := WriteTAP(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(perl, filepath.Join("testdata", "tapcheck.pl"))
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("TAP::Parser: %v\n%s\n--- TAP:\n%s", err, out, b.String())
	}
	if got := strings.TrimSpace(string(out)); got != "plan=1..2 tests=2 passed=1 failed=1 errors=0 version=13" {
		t.Fatalf("TAP::Parser says %q", got)
	}
}

// TestJUnitValidates checks the JUnit output against testdata/junit.xsd with xmllint.
func TestJUnitValidates(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (apt-get install libxml2-utils)")
	}
	var b bytes.Buffer
	if err := WriteJUnit(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "report.xml")
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit.xsd"), f).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s\n%s", err, out, b.String())
	}
	if !strings.Contains(b.String(), `failures="1"`) || !strings.Contains(b.String(), "<failure") {
		t.Fatalf("JUnit lacks the failure:\n%s", b.String())
	}
}

// TestJUnitSchemaRejects makes sure the schema check can fail.
func TestJUnitSchemaRejects(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (apt-get install libxml2-utils)")
	}
	f := filepath.Join(t.TempDir(), "bad.xml")
	_ = os.WriteFile(f, []byte(`<testsuites><testsuite name="x"><testcase/></testsuite></testsuites>`), 0o644)
	if err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit.xsd"), f).Run(); err == nil {
		t.Fatal("xmllint accepted a testsuite without its required attributes")
	}
}

// TestJSONReport decodes the JSON output back and checks what a grader reads.
func TestJSONReport(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Lab    string  `json:"lab"`
		Passed int     `json:"passed"`
		Total  int     `json:"total"`
		Score  float64 `json:"score"`
		Tasks  []struct {
			ID     string `json:"id"`
			Pass   bool   `json:"pass"`
			Hint   string `json:"hint"`
			Checks []struct {
				Expected string `json:"expected"`
				Found    string `json:"found"`
			} `json:"checks"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b.String())
	}
	if got.Lab != "demo" || got.Passed != 1 || got.Total != 2 || got.Score != 0.5 || len(got.Tasks) != 2 ||
		got.Tasks[1].Pass || got.Tasks[1].Hint == "" || got.Tasks[1].Checks[0].Found != `hostname "box"` {
		t.Fatalf("decoded report = %+v", got)
	}
}
