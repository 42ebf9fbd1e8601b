package methodsdoc

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

const docsFile = "../../docs/methods.md"

// TestDocsMatchCatalogue fails while docs/methods.md's method table is not
// the one the catalogue rows give, printing the differing lines and the
// command that regenerates it.
func TestDocsMatchCatalogue(t *testing.T) {
	doc, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(doc, vpoller.Catalogue()); err != nil {
		t.Fatalf("%s: %v", docsFile, err)
	}
}

// The table has one line per method, in the catalogue's order.
func TestTableOneLinePerMethod(t *testing.T) {
	rows := vpoller.Catalogue()
	table, err := Table(rows)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 2+len(rows) {
		t.Fatalf("%d lines for %d rows", len(lines), len(rows))
	}
	for i, mi := range rows {
		if !strings.HasPrefix(lines[2+i], "| `"+mi.Name+"` | ") {
			t.Errorf("line %d is %q, want %s's", 2+i, lines[2+i], mi.Name)
		}
	}
	want := "| `vm.process.get` | name, username, password | list `[{\"cmdLine\", props...}]` | Successfully retrieved properties | `<name> is not running VMware Tools` (same); credentials are required by the catalogue, so a request without them gets `Invalid task request` |"
	if !strings.Contains(table, "\n"+want+"\n") {
		t.Errorf("no line %s", want)
	}
	if !strings.Contains(table, "\n| `net.discover` | - | list `[{\"name\", props...}]` | Successfully discovered objects | |\n") {
		t.Error("net.discover: want - for no required keys and an empty differences cell")
	}
}

var row = vpoller.MethodInfo{Name: "host.nic.discover", Action: vpoller.ActionDiscover, Required: []string{vpoller.KeyName},
	Doc: vpoller.MethodDoc{Keys: "name (host)", Result: "list `[{\"nic\"}]`", Message: "Successfully discovered objects", Differences: "ours"}}

// A row missing from the file, a line the rows do not give, and a file
// without markers fail the check; Update puts the table in.
func TestCheckAndUpdate(t *testing.T) {
	rows := []vpoller.MethodInfo{row}
	doc := []byte("# Methods\n\nprose\n\n" + Begin + "\n" + End + "\n\nmore prose\n")
	err := Check(doc, rows)
	var stale *StaleError
	if !errors.As(err, &stale) || len(stale.Removed) != 0 ||
		strings.Join(stale.Added, "\n") != "| method | required keys | result | message | differences from the original |\n|---|---|---|---|---|\n| `host.nic.discover` | name (host) | list `[{\"nic\"}]` | Successfully discovered objects | ours |" {
		t.Fatalf("empty table: %#v", err)
	}
	if !strings.Contains(err.Error(), "run go generate ./vpoller/methodsdoc\n+ | method |") || !strings.Contains(err.Error(), "\n+ | `host.nic.discover` |") {
		t.Errorf("message %q lacks the command and the diff", err)
	}
	up, err := Update(doc, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Methods\n\nprose\n\n" + Begin + "\n" +
		"| method | required keys | result | message | differences from the original |\n|---|---|---|---|---|\n" +
		"| `host.nic.discover` | name (host) | list `[{\"nic\"}]` | Successfully discovered objects | ours |\n" +
		End + "\n\nmore prose\n"
	if string(up) != want {
		t.Fatalf("Update:\n%s\nwant\n%s", up, want)
	}
	if err := Check(up, rows); err != nil {
		t.Fatal(err)
	}
	edited := []byte(strings.Replace(string(up), "| ours |", "| ours, edited |", 1))
	if err := Check(edited, rows); !errors.As(err, &stale) || len(stale.Removed) != 1 || len(stale.Added) != 1 ||
		!strings.HasSuffix(stale.Removed[0], "| ours, edited |") || !strings.HasSuffix(stale.Added[0], "| ours |") {
		t.Errorf("edited line: %v", err)
	}
	if err := Check([]byte("no markers\n"), rows); err == nil || !strings.Contains(err.Error(), "around the methods table") {
		t.Errorf("no markers: %v", err)
	}
}

// The cells say what the row's facts say, and keep the table a table.
func TestTableRejects(t *testing.T) {
	for _, tc := range []struct {
		change func(*vpoller.MethodInfo)
		want   string
	}{
		{func(m *vpoller.MethodInfo) { m.Doc.Keys = "host" }, `method host.nic.discover: the required keys cell "host" does not name name`},
		{func(m *vpoller.MethodInfo) { m.Doc.Keys = "hostname" }, `method host.nic.discover: the required keys cell "hostname" does not name name`},
		{func(m *vpoller.MethodInfo) { m.Doc.Differences = "" }, `method host.nic.discover: ours, and its differences cell must start with "ours": ""`},
		{func(m *vpoller.MethodInfo) { m.Original = true }, `method host.nic.discover: the original's, but its differences cell says ours: "ours"`},
		{func(m *vpoller.MethodInfo) { m.Doc.Result = "a | b" }, "method host.nic.discover: cell 3 \"a | b\" has a | or a line break, which would break the table"},
	} {
		r := row
		tc.change(&r)
		if _, err := Table([]vpoller.MethodInfo{r}); err == nil || err.Error() != tc.want {
			t.Errorf("%v, want %s", err, tc.want)
		}
	}
	r := row
	r.Doc.Keys = ""
	if table, err := Table([]vpoller.MethodInfo{r}); err != nil || !strings.Contains(table, "| `host.nic.discover` | name | ") {
		t.Errorf("Keys unset: the Required keys: %q %v", table, err)
	}
}
