package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// module is this module's path; packages outside it (the standard
// library, third-party modules) are allowed everywhere.
const module = "github.com/vpoller/zabbix-vpoller"

// besides are the test-only packages that drive several layers at once
// (whole-chain tests, the fault suite, the e2e helpers): they may import
// anything but cmd/*.
var besides = []string{"integration", "faults", "e2e", "plugin/integration"}

// layerOf is the layer of a module package (its path without the module
// prefix) as docs/architecture.md's table numbers them, 0 for the
// besides.
func layerOf(pkg string) int {
	for _, b := range besides {
		if under(pkg, b) {
			return 0
		}
	}
	switch {
	case under(pkg, "internal"):
		return 1
	case under(pkg, "vpoller"):
		return 2
	case under(pkg, "lld"):
		return 3
	case under(pkg, "plugin"), under(pkg, "templates"):
		return 4
	case under(pkg, "cmd"):
		return 5
	}
	return -1 // a new top folder: the rules must say where it goes
}

// under reports whether pkg is dir or inside it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// processes are the three vPoller components that must not import one
// another (rule 7).
var processes = []string{"vpoller/proxy", "vpoller/worker", "vpoller/client"}

// violations checks one import arrow, both ends module-relative, against
// the layering rules of docs/architecture.md; it returns the broken
// rules' texts. test says the import is from a _test.go file, which is
// held only to rule 8 (tests may import a higher layer to check the
// wiring: the worker's tests run the real helpers of lld/helpers).
func violations(from, to string, test bool) []string {
	var out []string
	add := func(rule string) { out = append(out, rule) }
	if under(to, "cmd") {
		add("8: nothing imports cmd/*")
	}
	if test {
		return out
	}
	lf, lt := layerOf(from), layerOf(to)
	if lf < 0 {
		add("1: " + from + " is in no layer; add its folder to docs/architecture.md and this test")
	}
	if lt < 0 {
		add("1: " + to + " is in no layer; add its folder to docs/architecture.md and this test")
	}
	if lt == 0 {
		add("1: only tests import the test-only packages")
	}
	if lf > 0 && lt > lf {
		add("1: no upward arrow")
	}
	if under(from, "internal") && !under(to, "internal") {
		add("2: internal/* imports only internal/*")
	}
	if from == "vpoller" {
		add("3: vpoller imports nothing of ours")
	}
	if under(from, "vpoller") && (under(to, "lld") || under(to, "plugin") || under(to, "templates")) {
		add("4: nothing under vpoller/ knows Zabbix")
	}
	if under(from, "lld") && !under(to, "lld") && to != "vpoller" {
		add("5: lld imports only vpoller (the message package)")
	}
	if (under(from, "vpoller/vsphere/objects") || under(from, "vpoller/vsphere/session")) && under(to, "vpoller") &&
		!under(to, "vpoller/vsphere/objects") && !under(to, "vpoller/vsphere/session") {
		add("6: vsphere/objects and vsphere/session know nothing of requests and replies")
	}
	for _, p := range processes {
		for _, q := range processes {
			if p != q && under(from, p) && under(to, q) {
				add("7: proxy, worker and client do not import one another")
			}
		}
	}
	if under(from, "plugin/agent2") {
		add("7: plugin/agent2 imports nothing of ours")
	}
	return out
}

// TestLayering lists every package of the module with `go list` and
// fails on an import that breaks a rule of docs/architecture.md's
// "Layering rules".
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command:", err)
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	type pkg struct {
		ImportPath                         string
		Imports, TestImports, XTestImports []string
	}
	arrows := 0
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		from, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			t.Fatalf("go list gave %s, outside %s", p.ImportPath, module)
		}
		for _, set := range []struct {
			imports []string
			test    bool
		}{{p.Imports, false}, {p.TestImports, true}, {p.XTestImports, true}} {
			for _, imp := range set.imports {
				to, ok := strings.CutPrefix(imp, module+"/")
				if !ok || to == from {
					continue
				}
				arrows++
				for _, v := range violations(from, to, set.test) {
					t.Errorf("%s imports %s (test file: %v): breaks rule %s", from, to, set.test, v)
				}
			}
		}
	}
	if arrows < 50 {
		t.Fatalf("only %d imports between this module's packages seen; go list did not list the module", arrows)
	}
}

// TestLayeringRules shows that each rule catches the arrow it forbids,
// and lets the arrows the layers allow pass.
func TestLayeringRules(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		test     bool
		rules    []string // prefixes of the broken rules, in order
	}{
		{"internal/zmtp", "internal/curvekey", false, nil},
		{"vpoller/proxy", "vpoller/mgmt", false, nil},
		{"vpoller/worker", "vpoller/vsphere", false, nil},
		{"lld/helpers", "lld", false, nil},
		{"lld/helpers", "vpoller", false, nil},
		{"plugin", "lld", false, nil},
		{"cmd/vpoller-worker", "lld/helpers", false, nil},
		{"integration", "vpoller/worker", false, nil},
		{"vpoller/worker", "lld/helpers", true, nil},
		{"internal/mgmt", "vpoller", false, []string{"1:", "2:"}},
		{"vpoller/helpers", "lld", false, []string{"1:", "4:"}},
		{"vpoller/worker", "lld/helpers", false, []string{"1:", "4:"}},
		{"vpoller/proxy", "plugin", false, []string{"1:", "4:"}},
		{"vpoller", "internal/fixtures", false, []string{"3:"}},
		{"vpoller", "vpoller/backend", false, []string{"3:"}},
		{"lld", "vpoller/mgmt", false, []string{"5:"}},
		{"vpoller/vsphere/objects", "vpoller", false, []string{"6:"}},
		{"vpoller/worker", "vpoller/proxy", false, []string{"7:"}},
		{"plugin/agent2", "internal/guard", false, []string{"7:"}},
		{"plugin", "cmd/vpoller-proxy", false, []string{"8:", "1: no upward"}},
		{"integration", "cmd/vpoller-proxy", true, []string{"8:"}},
		{"vpoller/worker", "integration", false, []string{"1: only tests"}},
		{"newtop", "vpoller", false, []string{"1: newtop is in no layer"}},
	} {
		got := violations(tc.from, tc.to, tc.test)
		ok := len(got) == len(tc.rules)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], tc.rules[i])
		}
		if !ok {
			t.Errorf("%s -> %s (test %v): broken rules %q, want %q", tc.from, tc.to, tc.test, got, tc.rules)
		}
	}
}
