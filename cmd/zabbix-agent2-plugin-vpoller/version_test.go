package main

import (
	"bytes"
	"runtime"
	"testing"
)

func TestPrintVersion(t *testing.T) {
	version = "1.2.3~test"
	t.Cleanup(func() { version = "dev" })
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-V"}, true},
		{[]string{"--version"}, true},
		{[]string{"version"}, true},
		{[]string{"/tmp/agent.sock"}, false}, // how the agent starts it
		{[]string{"/tmp/agent.sock", "--version"}, false},
		{nil, false},
	} {
		var out bytes.Buffer
		got := printVersion(tc.args, &out)
		want := ""
		if tc.want {
			want = "zabbix-agent2-plugin-vpoller 1.2.3~test (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
		}
		if got != tc.want || out.String() != want {
			t.Errorf("%q: %v %q, want %v %q", tc.args, got, out.String(), tc.want, want)
		}
	}
}
