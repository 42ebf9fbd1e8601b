package agent2

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOptionsTranscriptTree(t *testing.T) {
	// The 6.0.14 Configure tree (with System) and the 7.0.22 one (without).
	for _, raw := range []string{
		`{"Name":"Vsphtest","Nodes":[{"Name":"System","Nodes":[{"Name":"Path","Nodes":[{"Value":"L3RtcC96YnhwbHVnL3pieHBsdWc=","Line":1}],"Line":1}],"Line":1},{"Name":"Timeout","Nodes":[{"Value":"Nw==","Line":2}],"Line":2},{"Name":"Sessions","Nodes":[{"Name":"Prod","Nodes":[{"Name":"Uri","Nodes":[{"Value":"aHR0cHM6Ly92Y2VudGVyLmV4YW1wbGUuaW52YWxpZC9zZGs=","Line":4}],"Line":4}],"Line":4}],"Line":4}],"Line":1}`,
		`{"Name":"Vsphtest","Nodes":[{"Name":"Timeout","Nodes":[{"Value":"Nw==","Line":2}],"Line":2},{"Name":"Sessions","Nodes":[{"Name":"Prod","Nodes":[{"Name":"Uri","Nodes":[{"Value":"aHR0cHM6Ly92Y2VudGVyLmV4YW1wbGUuaW52YWxpZC9zZGs=","Line":4}],"Line":4}],"Line":4}],"Line":4}],"Line":1}`,
	} {
		o, err := ParseOptions([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		want := []Option{
			{Path: []string{"Timeout"}, Value: "7", Line: 2},
			{Path: []string{"Sessions", "Prod", "Uri"}, Value: "https://vcenter.example.invalid/sdk", Line: 4},
		}
		if o.Plugin != "Vsphtest" || !reflect.DeepEqual(o.List, want) {
			t.Fatalf("got %+v", o)
		}
		if v, ok := o.Get("sessions.prod.URI"); !ok || v.Value != want[1].Value {
			t.Fatalf("Get: %+v %v", v, ok)
		}
	}
}

func TestParseOptionsEmpty(t *testing.T) {
	for _, raw := range []string{``, `null`, `{}`, ` `, `{"Name":"VPoller","Nodes":[],"Line":0}`, `{"Name":"VPoller","Nodes":null}`} {
		o, err := ParseOptions([]byte(raw))
		if err != nil || len(o.List) != 0 {
			t.Fatalf("%q: %+v %v", raw, o, err)
		}
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for raw, want := range map[string]string{
		`[1]`: "not a configuration tree",
		`{"Name":"X","Nodes":[{"Name":"A","Nodes":[{"Value":"%%%","Line":5}],"Line":5}]}`: "A (line 5): value is not base64",
		`{"Name":"X","Nodes":[{"Value":"YQ==","Line":2}]}`:                                "line 2: value without an option name",
		`{"Name":"X","Nodes":[{"Nodes":[],"Line":3}]}`:                                    "line 3: node without name or value",
		`{"Name":"X","Value":"YQ=="}`:                                                     "plugin node itself has a value",
		`{"Name":"X","Nodes":[{"Name":"A.B","Nodes":[{"Value":"YQ==","Line":2}]}]}`:       `invalid option name "A.B"`,
		`{"Name":"X","Nodes":[{"Name":"A","Value":"YQ==","Line":2}]}`:                     "both a value and a name",
	} {
		_, err := ParseOptions([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", raw, err, want)
		}
	}
	deep := strings.Repeat(`{"Name":"a","Nodes":[`, 40) + `{"Value":"YQ=="}` + strings.Repeat(`]}`, 40)
	if _, err := ParseOptions([]byte(`{"Name":"X","Nodes":[` + deep + `]}`)); err == nil || !strings.Contains(err.Error(), "deeper than") {
		t.Fatalf("deep tree: %v", err)
	}
}
