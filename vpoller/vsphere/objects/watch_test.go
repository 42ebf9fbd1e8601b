package objects

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestWatchSet(t *testing.T) {
	t.Parallel()
	w := newWatchSet(slog.New(slog.DiscardHandler), len(indexPaths["VirtualMachine"])+len(defaultPaths["VirtualMachine"])+2, time.Hour, true)
	paths, v0 := w.snapshot()
	vmStart := len(indexPaths["VirtualMachine"]) + len(defaultPaths["VirtualMachine"])
	hostStart := len(indexPaths["HostSystem"]) + len(defaultPaths["HostSystem"])
	if got, want := len(paths["VirtualMachine"]), vmStart; got != want {
		t.Fatalf("%d VM paths at start, want %d", got, want)
	}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		typ     string
		paths   []string
		changed bool
	}{
		{"VirtualMachine", []string{"runtime.powerState"}, false},           // a default
		{"VirtualMachine", []string{"config.hardware.device[4000]"}, false}, // not watchable
		{"Alarm", []string{"info.name"}, false},                             // not mirrored
		{"VirtualMachine", []string{"config.hardware.numCPU", "config.hardware.numCPU"}, true},
		{"VirtualMachine", []string{"config.hardware.numCPU"}, false}, // already
		{"VirtualMachine", []string{"config.hardware.memoryMB"}, true},
		{"VirtualMachine", []string{"config.version"}, false}, // the cap
		{"HostSystem", []string{"config.version"}, true},      // per type
	} {
		if got := w.offer(tc.typ, tc.paths, now); got != tc.changed {
			t.Errorf("offer(%s, %v) = %v, want %v", tc.typ, tc.paths, got, tc.changed)
		}
	}
	paths, v1 := w.snapshot()
	if v1 != v0+3 || len(paths["VirtualMachine"]) != vmStart+2 || len(paths["HostSystem"]) != hostStart+1 {
		t.Fatalf("version %d -> %d, VM %d paths, host %d", v0, v1, len(paths["VirtualMachine"]), len(paths["HostSystem"]))
	}
	// Asked-for paths stay; the others expire; defaults never do.
	w.touch("VirtualMachine", []string{"config.hardware.numCPU"}, now.Add(50*time.Minute))
	if !w.expire(now.Add(61 * time.Minute)) {
		t.Fatal("nothing expired")
	}
	paths, _ = w.snapshot()
	got := strings.Join(paths["VirtualMachine"], ",")
	if !strings.Contains(got, "config.hardware.numCPU") || strings.Contains(got, "config.hardware.memoryMB") ||
		!strings.Contains(got, "runtime.powerState") || len(paths["HostSystem"]) != hostStart {
		t.Errorf("after expiry: VM %s; host %v", got, paths["HostSystem"])
	}
	// The cap has room again; a refused path never comes back.
	if !w.offer("VirtualMachine", []string{"config.version"}, now) {
		t.Error("cap did not free up")
	}
	if !w.reject("config.version") || w.offer("HostSystem", []string{"config.version"}, now) {
		t.Error("rejected path offered again")
	}
	if w.reject("runtime.powerState") {
		t.Error("a default path was dropped")
	}
}

func TestWatchablePath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"name": true, "summary.quickStats.overallCpuUsage": true, "guest.disk": true, "a_b.c9": true,
		"": false, ".name": false, "name.": false, "a..b": false, "config.hardware.device[4000]": false,
		"name ": false, "名前": false, "a/b": false, strings.Repeat("a.", 16) + "a": false, strings.Repeat("x", 257): false,
		strings.Repeat("a.", 15) + "a": true,
	} {
		if got := WatchablePath(p); got != want {
			t.Errorf("WatchablePath(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzWatchablePath: never panics; an accepted path is dotted parts of
// letters, digits and underscores, bounded in length and depth.
func FuzzWatchablePath(f *testing.F) {
	for _, s := range []string{"name", "summary.quickStats.overallCpuUsage", "a..b", "x[1]", ".", "", "a.b."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !WatchablePath(s) {
			return
		}
		parts := strings.Split(s, ".")
		if len(s) > maxPathLen || len(parts) > maxPathParts {
			t.Fatalf("%q accepted: too long or deep", s)
		}
		for _, p := range parts {
			if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
				t.Fatalf("%q accepted with part %q", s, p)
			}
		}
	})
}
