package templates

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		params  []string
		wantErr bool
	}{
		{in: "agent.ping", name: "agent.ping"},
		{in: "vpoller.get[vm.get,{$VSPHERE.HOST},\"a b\",\"name,runtime.powerState\"]", name: "vpoller.get",
			params: []string{"vm.get", "{$VSPHERE.HOST}", "a b", "name,runtime.powerState"}},
		{in: `k[ "q\"uote" , x ,]`, name: "k", params: []string{`q"uote`, "x", ""}},
		{in: "k[,,]", name: "k", params: []string{"", "", ""}},
		{in: "k[[a,b],c]", name: "k", params: []string{"[a,b]", "c"}},
		{in: `vsphere.vm.fs.free[C:\]`, name: "vsphere.vm.fs.free", params: []string{`C:\`}},
		{in: "", wantErr: true},
		{in: "[x]", wantErr: true},
		{in: "k[", wantErr: true},
		{in: "k[a", wantErr: true},
		{in: `k["a]`, wantErr: true},
		{in: `k["a"b]`, wantErr: true},
		{in: "k[[a,[b]]]", wantErr: true},
		{in: "k[a]x", wantErr: true},
		{in: "k x", wantErr: true},
	}
	for _, tc := range tests {
		k, err := ParseKey(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseKey(%q) = %+v, want an error", tc.in, k)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseKey(%q): %v", tc.in, err)
			continue
		}
		if k.Name != tc.name || !reflect.DeepEqual(k.Params, tc.params) {
			t.Errorf("ParseKey(%q) = %q %q, want %q %q", tc.in, k.Name, k.Params, tc.name, tc.params)
		}
	}
}

func TestKeyQuotesWhatNeedsIt(t *testing.T) {
	tests := []struct {
		params []string
		want   string
	}{
		{nil, "n"},
		{[]string{"a", "", ""}, "n[a]"},
		{[]string{"", "b"}, "n[,b]"},
		{[]string{"a,b"}, `n["a,b"]`},
		{[]string{`say "hi"`}, `n["say \"hi\""]`},
		{[]string{"x]"}, `n["x]"]`},
		{[]string{"[x"}, `n["[x"]`},
		{[]string{" lead"}, `n[" lead"]`},
	}
	for _, tc := range tests {
		if got := Key("n", tc.params...); got != tc.want {
			t.Errorf("Key(n, %q) = %s, want %s", tc.params, got, tc.want)
		}
	}
}

// templateKeys returns every item key of the committed templates: the
// fuzz corpus.
func templateKeys(f interface{ Fatal(...any) }) []string {
	paths, _ := filepath.Glob("*.yaml")
	re := regexp.MustCompile(`(?m)^\s+key: (.*)$`)
	var out []string
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range re.FindAllStringSubmatch(string(raw), -1) {
			k := strings.TrimSpace(s[1])
			if strings.HasPrefix(k, "'") {
				k = strings.ReplaceAll(strings.Trim(k, "'"), "''", "'")
			}
			out = append(out, k)
		}
	}
	return out
}

func FuzzParseKey(f *testing.F) {
	for _, k := range templateKeys(f) {
		f.Add(k)
	}
	f.Add(`k["a\"b",[c,"d,e"], f ]`)
	f.Add("k[")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if k.Name == "" {
			t.Fatalf("ParseKey(%q) succeeded with an empty name", s)
		}
		// Round trip: what Key writes parses back to the same parameters
		// (arrays and parameters ending in a backslash cannot be written
		// quoted, Zabbix has no escape for them).
		for _, p := range k.Params {
			if strings.HasPrefix(p, "[") || strings.HasSuffix(p, `\`) {
				return
			}
		}
		again, err := ParseKey(Key(k.Name, k.Params...))
		if err != nil {
			t.Fatalf("Key(%q) = %q does not parse: %v", k.Params, Key(k.Name, k.Params...), err)
		}
		want := k.Params
		for len(want) > 0 && want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(again.Params, want) {
			t.Fatalf("round trip of %q: got %q, want %q", s, again.Params, want)
		}
	})
}
