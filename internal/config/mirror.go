package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
)

// Mirror holds the [worker] keys of the vSphere property mirror and
// performance sweep (see vpoller/vsphere/objects): how much of vCenter's
// inventory the worker watches and how old data may be when it answers
// from memory.
type Mirror struct {
	// Enabled answers reads of watched properties from the mirror
	// (mirror = true). Off, every read goes to vCenter.
	Enabled bool
	// MaxPaths caps the watched properties per managed object type,
	// defaults included (mirror_max_paths).
	MaxPaths int
	// PathExpiry drops a property clients added when nobody asked for it
	// this long (mirror_path_expiry).
	PathExpiry time.Duration
	// MaxAge is the staleness bound: data not confirmed current within it
	// is not served from memory (mirror_max_age).
	MaxAge time.Duration
	// Wait is how long vCenter may hold one update poll with nothing to
	// report (mirror_wait); each poll confirms the mirror current.
	Wait time.Duration
	// Sweep answers performance queries from one sweep per sample period
	// (perf_sweep).
	Sweep bool
	// SweepExpiry is how many of its own polling periods a performance
	// series may go unasked before it leaves the sweep
	// (perf_sweep_expiry).
	SweepExpiry int
}

// defaultMirror is the mirror's built-in configuration.
func defaultMirror() Mirror {
	return Mirror{Enabled: true, MaxPaths: 64, PathExpiry: time.Hour, MaxAge: time.Minute, Wait: 20 * time.Second,
		Sweep: true, SweepExpiry: 3}
}

// mirrorOptions are the [worker] keys of the mirror and the sweep.
var mirrorOptions = option.Table[Worker]{
	{Name: "mirror", Value: boolean(func(w *Worker) *bool { return &w.Mirror.Enabled }),
		Doc: "serve watched properties from the mirror"},
	{Name: "mirror_max_paths", Value: atLeast(8, func(w *Worker) *int { return &w.Mirror.MaxPaths }),
		Doc: "watched paths per managed object type, defaults included"},
	{Name: "mirror_path_expiry", Value: duration(func(w *Worker) *time.Duration { return &w.Mirror.PathExpiry }),
		Doc: "a client-added path leaves when unasked this long (at least 1m)"},
	{Name: "mirror_max_age", Value: duration(func(w *Worker) *time.Duration { return &w.Mirror.MaxAge }),
		Doc: "staleness bound: older data is never served from memory (must exceed `mirror_wait`)"},
	{Name: "mirror_wait", Value: duration(func(w *Worker) *time.Duration { return &w.Mirror.Wait }),
		Doc: "`MaxWaitSeconds` of the long poll (whole seconds from 1s to 1h, below `mirror_max_age`)"},
	{Name: "perf_sweep", Value: boolean(func(w *Worker) *bool { return &w.Mirror.Sweep }),
		Doc: "answer perf queries from the sweep"},
	{Name: "perf_sweep_expiry", Value: atLeast(1, func(w *Worker) *int { return &w.Mirror.SweepExpiry }),
		Doc: "periods a series may go unasked before it leaves"},
}

// checkMirror checks the mirror keys against each other.
func checkMirror(m *Mirror, lay layout) error {
	if m.Wait < time.Second || m.Wait%time.Second != 0 || m.Wait > time.Hour {
		return fmt.Errorf("%s = %v: want whole seconds from 1s to 1h", locate(lay, "worker", "mirror_wait"), m.Wait)
	}
	if m.MaxAge <= m.Wait {
		return fmt.Errorf("%s = %v must exceed mirror_wait = %v (each poll may take that long to confirm the mirror current)",
			locate(lay, "worker", "mirror_max_age"), m.MaxAge, m.Wait)
	}
	if m.PathExpiry < time.Minute {
		return fmt.Errorf("%s = %v: want at least 1m", locate(lay, "worker", "mirror_path_expiry"), m.PathExpiry)
	}
	return nil
}

// ParseSeconds reads a duration written as whole seconds ("90") or in Go
// syntax ("90s", "1h30m"); it must be positive and at most a week.
func ParseSeconds(v string) (time.Duration, error) {
	d, err := parseSeconds(v)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", strings.TrimSpace(v), err)
	}
	return d, nil
}

// parseSeconds is ParseSeconds with errors that say only what is wanted.
func parseSeconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > int64(7*24*time.Hour/time.Second) {
			return 0, errors.New("want seconds from 1 to 604800")
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, errors.New("want seconds (90) or a duration (90s, 1h30m)")
	}
	if d <= 0 || d > 7*24*time.Hour {
		return 0, errors.New("want a positive duration of at most a week")
	}
	return d, nil
}
