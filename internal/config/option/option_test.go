package option

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	keys := []string{"frontend", "backend", "frontend_curve_secret_key", "frontend_curve_allow", "mgmt"}
	for in, want := range map[string]string{
		"frontend_curve_secret_kye":   "frontend_curve_secret_key",
		"frontned":                    "frontend",
		"bakend":                      "backend",
		"mgnt":                        "mgmt",
		"frontend_curve_alow":         "frontend_curve_allow",
		"FRONTEND":                    "frontend", // case aside: the agent's names
		"xyz":                         "",
		"database_password":           "",
		strings.Repeat("frontend", 9): "", // longer than any option name may be
	} {
		if got := Closest(in, keys); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"Endpiont", "Endpoint", 1},
	} {
		if got := EditDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

type demo struct {
	N    int
	Name string
}

var demoTable = Table[demo]{
	{Name: "n", Value: Value[demo]{Kind: "whole number", Bounds: "1-9",
		Set:  func(d *demo, v string) error { d.N = len(v); return nil },
		Show: func(d *demo) string { return strings.Repeat("x", d.N) }}, Doc: "a number"},
	{Name: "name", Value: Value[demo]{Kind: "text",
		Set:  func(d *demo, v string) error { d.Name = v; return nil },
		Show: func(d *demo) string { return d.Name }}, Doc: "a name"},
	{Name: "req", Value: Value[demo]{Kind: "text", Set: func(*demo, string) error { return nil }}, Default: "(required)", Doc: "needed"},
	{Name: "old", Value: Value[demo]{Kind: "any", Set: func(*demo, string) error { return nil }}, Doc: "ignored"},
}

func TestFindAndBind(t *testing.T) {
	if _, ok := demoTable.Find("NAME", false); ok {
		t.Error("Find without fold matched another case")
	}
	o, ok := demoTable.Find("NAME", true)
	if !ok || o.Name != "name" {
		t.Fatalf("Find with fold: %+v %v", o, ok)
	}
	type outer struct{ In demo }
	bound := Bind(demoTable, func(o *outer) *demo { return &o.In })
	var dst outer
	if err := bound[1].Set(&dst, "vc"); err != nil || dst.In.Name != "vc" {
		t.Fatalf("bound set: %+v %v", dst, err)
	}
	if got := bound[1].Show(&dst); got != "vc" {
		t.Errorf("bound show = %q", got)
	}
	if bound[3].Show != nil {
		t.Error("a row without Show got one")
	}
	if got := strings.Join(bound.Names(), ","); got != "n,name,req,old" {
		t.Errorf("Names = %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	got := demoTable.Markdown(&demo{N: 2}, func(n string) string { return "P." + n })
	want := "| option | value | default | meaning |\n|---|---|---|---|\n" +
		"| `P.n` | whole number, 1-9 | `xx` | a number |\n" +
		"| `P.name` | text | (none) | a name |\n" +
		"| `P.req` | text | (required) | needed |\n" +
		"| `P.old` | any | - | ignored |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSyncDoc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.md")
	begin, end := Markers("demo")
	doc := "# Doc\n\n" + begin + "\n| old |\n" + end + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "| new |\n"
	err := SyncDoc(path, "demo", want, false)
	if err == nil || !strings.Contains(err.Error(), "doc.md:4: the option table demo differs") ||
		!strings.Contains(err.Error(), `line 1 of the block is "| old |", want "| new |"`) || !strings.HasSuffix(err.Error(), "\n| new |\n") {
		t.Fatalf("difference: %v", err)
	}
	if err := SyncDoc(path, "demo", want, true); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if got := string(raw); got != "# Doc\n\n"+begin+"\n| new |\n"+end+"\n\nafter\n" {
		t.Fatalf("updated:\n%s", got)
	}
	if err := SyncDoc(path, "demo", want, false); err != nil {
		t.Fatalf("after update: %v", err)
	}
	if err := SyncDoc(path, "other", want, false); err == nil || !strings.Contains(err.Error(), "no block <!-- options: other begin -->") {
		t.Fatalf("missing block: %v", err)
	}
}
