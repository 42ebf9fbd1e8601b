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
