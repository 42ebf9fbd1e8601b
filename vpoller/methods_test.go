package vpoller

import (
	"slices"
	"strings"
	"testing"
)

// Every row of the catalogue is complete and names one method: the rows
// are the single description of a method the other components derive
// theirs from.
func TestCatalogueRows(t *testing.T) {
	seen := map[string]bool{}
	originals := 0
	for _, mi := range Catalogue() {
		if err := mi.Check(); err != nil {
			t.Error(err)
		}
		if seen[mi.Name] {
			t.Errorf("%s: two rows", mi.Name)
		}
		seen[mi.Name] = true
		if mi.Original {
			originals++
		}
	}
	if originals != 53 {
		t.Errorf("%d original methods, want the Python vPoller's 53", originals)
	}
	if got, want := Methods(), slices.Sorted(func(yield func(string) bool) {
		for n := range seen {
			if !yield(n) {
				return
			}
		}
	}); !slices.Equal(got, want) {
		t.Errorf("Methods() = %v, want the rows' names %v", got, want)
	}
}

// The original writes msg first for its general methods (but not
// perf.metric.info, whose dict starts with success), perf.interval.info,
// the per-entity performance information and the samples: the rows say
// so one by one, and this is the rule they follow.
func TestMsgFirstRows(t *testing.T) {
	for _, mi := range Catalogue() {
		want := mi.Original && (slices.Contains([]string{"about", "event.latest", "session.get", "perf.interval.info"}, mi.Name) ||
			strings.HasSuffix(mi.Name, ".perf.metric.info") || strings.HasSuffix(mi.Name, ".perf.metric.get"))
		if mi.MsgFirst() != want {
			t.Errorf("%s: MsgFirst %v, want %v", mi.Name, mi.MsgFirst(), want)
		}
	}
}

func TestCheckRejects(t *testing.T) {
	ok := MethodInfo{Name: "x.get", Action: ActionGet, Required: []string{KeyName}, Doc: MethodDoc{Result: "list", Message: "m"}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func(*MethodInfo)
		want   string
	}{
		{func(m *MethodInfo) { m.Name = "" }, "a catalogue row without a name"},
		{func(m *MethodInfo) { m.Action = 0 }, "method x.get: no kind of request (Action)"},
		{func(m *MethodInfo) { m.Shape = 7 }, "method x.get: unknown result shape 7"},
		{func(m *MethodInfo) { m.Order = MsgFirst }, "method x.get: msg-first replies are the original's, and it is ours"},
		{func(m *MethodInfo) { m.Doc.Message = "" }, "method x.get: its docs row needs Result and Message"},
		{func(m *MethodInfo) { m.Required = []string{KeyHostname} }, `method x.get: requires "hostname", which is no request key it can require`},
		{func(m *MethodInfo) { m.Required = []string{KeyName, KeyName} }, `method x.get: requires "name" twice`},
	} {
		m := ok
		tc.change(&m)
		if err := m.Check(); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", m, err, tc.want)
		}
	}
}

// Register adds a row after the table's, refuses a second row of a name
// and an incomplete row, and its undo removes exactly that row.
func TestRegister(t *testing.T) {
	before := Catalogue()
	row := MethodInfo{Name: "zz.test.get", Action: ActionGet, Required: []string{KeyName, KeyKey}, Doc: MethodDoc{Result: "list", Message: "Successfully tested"}}
	undo, err := Register(row)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := Method("zz.test.get")
	if !ok || got.Action != ActionGet || !slices.Equal(got.Required, []string{KeyName, KeyKey}) || got.Doc.Message != "Successfully tested" {
		t.Fatalf("Method after Register: %+v %v", got, ok)
	}
	if all := Catalogue(); len(all) != len(before)+1 || all[len(all)-1].Name != "zz.test.get" {
		t.Errorf("Catalogue after Register: %d rows, last %s", len(all), all[len(all)-1].Name)
	}
	if names := Methods(); names[len(names)-1] != "zz.test.get" {
		t.Errorf("Methods() ends with %s", names[len(names)-1])
	}
	if m := got.Missing(&Request{Name: "a"}); m != KeyKey {
		t.Errorf("Missing = %q, want key", m)
	}
	if _, err := Register(row); err == nil || err.Error() != "method zz.test.get: already in the catalogue" {
		t.Errorf("second Register: %v", err)
	}
	if _, err := Register(MethodInfo{Name: "vm.get", Action: ActionGet, Doc: MethodDoc{Result: "r", Message: "m"}}); err == nil {
		t.Error("Register replaced vm.get")
	}
	if _, err := Register(MethodInfo{Name: "zz.other.get"}); err == nil || err.Error() != "method zz.other.get: no kind of request (Action)" {
		t.Errorf("incomplete row: %v", err)
	}
	undo()
	undo() // once only
	if _, ok := Method("zz.test.get"); ok {
		t.Error("still in the catalogue after undo")
	}
	if after := Catalogue(); len(after) != len(before) {
		t.Errorf("%d rows after undo, want %d", len(after), len(before))
	}
}
