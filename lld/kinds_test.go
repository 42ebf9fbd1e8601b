package lld

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestLookupUnchanged holds Lookup to what it answered for every method
// before the Zabbix facts were derived from the catalogue rows (the
// snapshot in testdata/lookup.txt): the helper's and the plugin's
// treatment and the macro prefix of each method. Methods added since are
// not in it (their facts are derived; TestDerivedFacts covers them).
func TestLookupUnchanged(t *testing.T) {
	f, err := os.Open("testdata/lookup.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 4 {
			t.Fatalf("bad snapshot line %q", line)
		}
		n++
		name := fields[0]
		if _, ok := vpoller.Method(name); !ok {
			t.Errorf("%s: in the snapshot, not in the catalogue", name)
			continue
		}
		m, ok := Lookup(name)
		if !ok {
			t.Errorf("%s: Lookup knows nothing of it", name)
			continue
		}
		if got := strings.Join([]string{m.Name, m.Helper.String(), m.Plugin.String(), m.Prefix}, " "); got != line {
			t.Errorf("Lookup(%s) = %q, snapshot %q", name, got, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 76 {
		t.Errorf("%d methods in the snapshot, want the 76 it was taken with", n)
	}
}

// Each exception says something its row does not: without it, the
// method's facts would differ.
func TestExceptionsAreExceptions(t *testing.T) {
	for name, e := range exceptions {
		mi, ok := vpoller.Method(name)
		if !ok {
			continue // TestKindsMatchCatalogue names it
		}
		k := byAction[mi.Action]
		if e.Helper == k && e.Plugin == k && (e.Prefix == "" || e.Prefix == MacroPrefix(name)) {
			t.Errorf("%s: the exception %+v is what its row (%s) gives", name, e, mi.Action)
		}
		if e.Name != "" {
			t.Errorf("%s: the exception names %q; Facts names it", name, e.Name)
		}
	}
}

// A row's facts follow from its kind of request and its name: a method
// added with one row needs nothing here.
func TestDerivedFacts(t *testing.T) {
	doc := vpoller.MethodDoc{Result: "list", Message: "m"}
	for _, tc := range []struct {
		row  vpoller.MethodInfo
		want Method
	}{
		{vpoller.MethodInfo{Name: "host.nic.discover", Action: vpoller.ActionDiscover, Doc: doc},
			Method{Name: "host.nic.discover", Helper: KindLLD, Plugin: KindLLD, Prefix: "HOST.NIC"}},
		{vpoller.MethodInfo{Name: "vm.uptime.get", Action: vpoller.ActionGet, Doc: doc},
			Method{Name: "vm.uptime.get", Helper: KindItem, Plugin: KindItem, Prefix: "VM.UPTIME"}},
		{vpoller.MethodInfo{Name: "pod.perf.metric.get", Action: vpoller.ActionPerf, Doc: doc},
			Method{Name: "pod.perf.metric.get", Helper: KindItem, Plugin: KindItem, Prefix: "POD.PERF.METRIC"}},
		{vpoller.MethodInfo{Name: "task.get", Action: vpoller.ActionStream, Doc: doc},
			Method{Name: "task.get", Helper: KindNone, Plugin: KindNone, Prefix: "TASK"}},
		// an exception wins over the row
		{vpoller.MethodInfo{Name: "vm.guest.net.get", Action: vpoller.ActionDiscover, Shape: vpoller.ObjectResult, Doc: doc},
			Method{Name: "vm.guest.net.get", Helper: KindLLD, Plugin: KindLLD, Prefix: "VM"}},
		{vpoller.MethodInfo{Name: "net.discover", Action: vpoller.ActionDiscover, Doc: doc},
			Method{Name: "net.discover", Helper: KindNone, Plugin: KindLLD, Prefix: "NET"}},
	} {
		if got := Facts(tc.row); got != tc.want {
			t.Errorf("Facts(%s) = %+v, want %+v", tc.row.Name, got, tc.want)
		}
	}
	// A registered row is looked up like the table's.
	undo, err := vpoller.Register(vpoller.MethodInfo{Name: "host.nic.discover", Action: vpoller.ActionDiscover, Required: []string{vpoller.KeyName}, Doc: doc})
	if err != nil {
		t.Fatal(err)
	}
	defer undo()
	if got, ok := Lookup("host.nic.discover"); !ok || got.Plugin != KindLLD || got.Prefix != "HOST.NIC" {
		t.Errorf("Lookup of a registered row: %+v %v", got, ok)
	}
}
