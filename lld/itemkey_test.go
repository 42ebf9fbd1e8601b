package lld

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseItemKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		name   string
		params []string
		arrays []bool
		err    string
	}{
		{key: "agent.ping", name: "agent.ping"},
		{key: "echo[]", name: "echo", params: []string{""}, arrays: []bool{false}},
		{key: `echo[a,"b c",,d]`, name: "echo", params: []string{"a", "b c", "", "d"}, arrays: []bool{false, false, false, false}},
		{key: `vpoller.get[vm.get,vc01, "runtime.powerState,name"]`, name: "vpoller.get",
			params: []string{"vm.get", "vc01", "runtime.powerState,name"}, arrays: []bool{false, false, false}},
		{key: `vpoller.get[vm.get,{$VSPHERE.HOST},"a b","name,runtime.powerState"]`, name: "vpoller.get",
			params: []string{"vm.get", "{$VSPHERE.HOST}", "a b", "name,runtime.powerState"}, arrays: []bool{false, false, false, false}},
		{key: `k["say \"hi\""]`, name: "k", params: []string{`say "hi"`}, arrays: []bool{false}},
		{key: `k[ "q\"uote" , x ,]`, name: "k", params: []string{`q"uote`, "x ", ""}, arrays: []bool{false, false, false}},
		// An array arrives as one parameter, its elements joined by ','.
		{key: `k[[x,y],z]`, name: "k", params: []string{"x,y", "z"}, arrays: []bool{true, false}},
		{key: `k[ a ,b]`, name: "k", params: []string{"a ", "b"}, arrays: []bool{false, false}},
		{key: `vsphere.vm.fs.free[C:\]`, name: "vsphere.vm.fs.free", params: []string{`C:\`}, arrays: []bool{false}},
		{key: "", err: "no key name"},
		{key: "[x]", err: "no key name"},
		{key: "k[", err: "missing closing ']'"},
		{key: "k[a", err: "missing closing ']'"},
		{key: `k["a]`, err: "unterminated quoted parameter"},
		{key: `k["a"b]`, err: `unexpected 'b' after a quoted parameter`},
		{key: `k[[a,[b]]]`, err: "an array inside an array"},
		{key: "k[a]x", err: "text after the closing ']'"},
		{key: "k x", err: "invalid character ' ' after the name"},
		{key: "k[" + strings.Repeat("a", MaxItemKey) + "]", err: "longer than 2048"},
	} {
		k, err := ParseItemKey(tc.key)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseItemKey(%q) = %+v, %v; want an error with %q", tc.key, k, err, tc.err)
			}
			continue
		}
		if err != nil || k.Name != tc.name || !slices.Equal(k.Params, tc.params) || (k.Params == nil) != (tc.params == nil) || !slices.Equal(k.Array, tc.arrays) {
			t.Errorf("ParseItemKey(%q) = %+v, %v; want %q %q %v", tc.key, k, err, tc.name, tc.params, tc.arrays)
		}
	}
}

func TestCutItemKeyReturnsTheRest(t *testing.T) {
	for _, tc := range []struct{ in, name, rest string }{
		{`vpoller.get[vm.get,"a,b)/c"])>0`, "vpoller.get", ")>0"},
		{"agent.ping)=0", "agent.ping", ")=0"},
		{`k[[a,")"],b] or x`, "k", " or x"},
	} {
		k, rest, err := CutItemKey(tc.in)
		if err != nil || k.Name != tc.name || rest != tc.rest {
			t.Errorf("CutItemKey(%q) = %q, %q, %v; want %q, %q", tc.in, k.Name, rest, err, tc.name, tc.rest)
		}
	}
}

func TestFormatItemKeyQuotesWhatNeedsIt(t *testing.T) {
	for _, tc := range []struct {
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
		{[]string{"trail "}, `n["trail "]`},
	} {
		if got := FormatItemKey("n", tc.params...); got != tc.want {
			t.Errorf("FormatItemKey(n, %q) = %s, want %s", tc.params, got, tc.want)
		}
	}
}

// templateKeys returns every item key of the shipped templates: the
// fuzz corpus.
func templateKeys(f interface{ Fatal(...any) }) []string {
	paths, _ := filepath.Glob("../templates/*.yaml")
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

// FuzzParseItemKey: any input parses or fails with an error, never
// panics, and what FormatItemKey writes reads back to the same
// parameters.
func FuzzParseItemKey(f *testing.F) {
	for _, k := range templateKeys(f) {
		f.Add(k)
	}
	for _, s := range []string{"agent.ping", "echo[]", `echo[a,"b c",,d]`, `k[[x,y],z]`, `k["a\"b"]`, "k[", `k["`, "k[[", "[]", `k["a\"b",[c,"d,e"], f ]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseItemKey(s)
		if err != nil {
			return
		}
		if k.Name == "" || len(k.Params) != len(k.Array) {
			t.Fatalf("ParseItemKey(%q) = %+v", s, k)
		}
		for _, p := range k.Params {
			if strings.HasSuffix(p, `\`) {
				return // Zabbix has no way to quote a trailing backslash
			}
		}
		again, err := ParseItemKey(FormatItemKey(k.Name, k.Params...))
		if err != nil {
			t.Fatalf("FormatItemKey(%q) = %q does not parse: %v", k.Params, FormatItemKey(k.Name, k.Params...), err)
		}
		want := k.Params
		for len(want) > 0 && want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		if len(want) == 0 {
			want = nil
		}
		if !slices.Equal(again.Params, want) || (again.Params == nil) != (want == nil) {
			t.Fatalf("round trip of %q: got %q, want %q", s, again.Params, want)
		}
	})
}
