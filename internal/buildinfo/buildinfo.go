// Package buildinfo is the version every binary reports: --version, the
// daemons' start-up log line and their management status. The Makefile
// stamps it into each main package (-X main.version=...); each main hands
// it to Set, so that packages below main (the management socket's status)
// report the same string.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
)

var version atomic.Value // string

// Set records the version stamped into main ("" or "dev": not stamped).
func Set(v string) { version.Store(v) }

// Version is the version Set recorded, else the module version or VCS
// revision go build embedded (a go install or a plain go build), else
// "devel".
func Version() string {
	if v, _ := version.Load().(string); v != "" && v != "dev" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			return "devel-" + rev + dirty
		}
	}
	return "devel"
}

// Line is what --version prints: the program, its version and the Go
// toolchain and platform it was built for.
func Line(prog string) string {
	return fmt.Sprintf("%s %s (%s, %s/%s)", prog, Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
