package endpoint

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in             string
		listen, dial   string // "network addr"
		wildcard       bool
		wantErrContain string
	}{
		{in: "tcp://127.0.0.1:10123", listen: "tcp 127.0.0.1:10123", dial: "tcp 127.0.0.1:10123"},
		{in: "tcp://*:10123", listen: "tcp :10123", dial: "tcp 127.0.0.1:10123", wildcard: true},
		{in: "tcp://:0", listen: "tcp :0", dial: "tcp 127.0.0.1:0", wildcard: true},
		{in: "tcp://[::1]:9999", listen: "tcp [::1]:9999", dial: "tcp [::1]:9999"},
		{in: "tcp://vpoller.example.org:10123", listen: "tcp vpoller.example.org:10123", dial: "tcp vpoller.example.org:10123"},
		{in: "ipc:///run/vpoller.sock", listen: "unix /run/vpoller.sock", dial: "unix /run/vpoller.sock"},
		{in: "localhost:10123", wantErrContain: "want tcp://host:port or ipc://path"},
		{in: "tcp://", wantErrContain: "want tcp://host:port"},
		{in: "ipc://", wantErrContain: "want tcp://host:port"},
		{in: "tcp://host", wantErrContain: "missing port"},
		{in: "udp://host:1", wantErrContain: `unsupported transport "udp"`},
	}
	for _, c := range cases {
		e, err := Parse(c.in)
		if c.wantErrContain != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrContain) {
				t.Errorf("%s: err %v, want it to contain %q", c.in, err, c.wantErrContain)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if n, a := e.ListenAddr(); n+" "+a != c.listen {
			t.Errorf("%s: listen %s %s, want %s", c.in, n, a, c.listen)
		}
		if n, a := e.DialAddr(); n+" "+a != c.dial {
			t.Errorf("%s: dial %s %s, want %s", c.in, n, a, c.dial)
		}
		if e.Wildcard() != c.wildcard || e.Raw != c.in {
			t.Errorf("%s: %+v", c.in, e)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"tcp://*:10123", "ipc:///x", "tcp://[::1]:1", "tcp://a:b:c", "x://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		if e.Scheme != "tcp" && e.Scheme != "ipc" {
			t.Fatalf("%q parsed with scheme %q", s, e.Scheme)
		}
		e.ListenAddr()
		e.DialAddr()
	})
}

func TestExposed(t *testing.T) {
	for ep, want := range map[string]bool{
		"tcp://127.0.0.1:1":       false,
		"tcp://localhost:1":       false,
		"tcp://[::1]:1":           false,
		"tcp://*:1":               true,
		"tcp://0.0.0.0:1":         true,
		"tcp://10.0.0.5:1":        true,
		"tcp://vpoller.example:1": true,
		"ipc:///run/x.sock":       false,
		"nonsense":                false,
	} {
		if got := Exposed(ep); got != want {
			t.Errorf("Exposed(%q) = %v, want %v", ep, got, want)
		}
	}
}
