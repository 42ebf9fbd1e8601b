package config

import (
	"strings"
	"testing"
	"time"
)

func TestMirrorKeys(t *testing.T) {
	c, err := Parse([]byte(original))
	if err != nil {
		t.Fatal(err)
	}
	if c.Worker.Mirror != defaultMirror() {
		t.Errorf("defaults: %+v", c.Worker.Mirror)
	}
	c, err = Parse([]byte("[worker]\nmirror = off\nmirror_max_paths = 100\nmirror_path_expiry = 2h\nmirror_max_age = 45\nmirror_wait = 15s\nperf_sweep = no\nperf_sweep_expiry = 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Mirror{Enabled: false, MaxPaths: 100, PathExpiry: 2 * time.Hour, MaxAge: 45 * time.Second, Wait: 15 * time.Second,
		Sweep: false, SweepExpiry: 5}
	if c.Worker.Mirror != want {
		t.Errorf("got %+v\nwant %+v", c.Worker.Mirror, want)
	}
	for _, tc := range []struct{ ini, err string }{
		{"mirror = maybe", "mirror = \"maybe\": want true or false"},
		{"mirror_max_paths = 3", "mirror_max_paths"},
		{"mirror_wait = 1.5s", "mirror_wait = 1.5s: want whole seconds"},
		{"mirror_wait = 30s\nmirror_max_age = 30s", "must exceed mirror_wait"},
		{"mirror_max_age = soon", "mirror_max_age = \"soon\": want seconds"},
		{"mirror_path_expiry = 10s", "want at least 1m"},
		{"perf_sweep_expiry = 0", "perf_sweep_expiry"},
	} {
		_, err := Parse([]byte("[worker]\n" + tc.ini + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want one containing %q", tc.ini, err, tc.err)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"90": 90 * time.Second, " 20s ": 20 * time.Second, "1h30m": 90 * time.Minute, "604800": 7 * 24 * time.Hour} {
		if got, err := ParseSeconds(in); err != nil || got != want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "-1s", "8d", "604801", "1e3", "x"} {
		if d, err := ParseSeconds(in); err == nil {
			t.Errorf("ParseSeconds(%q) accepted: %v", in, d)
		}
	}
}

// FuzzParseSeconds: never panics; what it accepts is positive, at most a
// week, and reads the same when written back in Go syntax.
func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"90", "20s", "1h30m", "0", "-1", "99999999999999999999", "1.5h", "3m0.5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseSeconds(s)
		if err != nil {
			return
		}
		if d <= 0 || d > 7*24*time.Hour {
			t.Fatalf("%q -> %v out of range", s, d)
		}
		again, err := ParseSeconds(d.String())
		if err != nil || again != d {
			t.Fatalf("%q -> %v -> %v, %v", s, d, again, err)
		}
	})
}
