package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Cleanup(func() { Set("") })
	for _, tc := range []struct{ set, want string }{
		{"1.2.3", "1.2.3"},
		{"0.0~git20261207.3.abc1234", "0.0~git20261207.3.abc1234"},
	} {
		Set(tc.set)
		if got := Version(); got != tc.want {
			t.Errorf("Set(%q): Version() = %q, want %q", tc.set, got, tc.want)
		}
		if got, want := Line("vpoller-proxy"), "vpoller-proxy "+tc.want+" ("+runtime.Version(); !strings.HasPrefix(got, want) {
			t.Errorf("Line = %q, want prefix %q", got, want)
		}
	}
	// Not stamped: never empty, never the Makefile's placeholder.
	for _, unset := range []string{"", "dev"} {
		Set(unset)
		if got := Version(); got == "" || got == "dev" {
			t.Errorf("Set(%q): Version() = %q", unset, got)
		}
	}
}
