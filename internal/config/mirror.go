package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
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

// readMirror reads the mirror keys of a [worker] (or [Default]) section.
func (c *Config) readMirror(s *ini.Section) error {
	m := &c.Worker.Mirror
	for key, dst := range map[string]*bool{"mirror": &m.Enabled, "perf_sweep": &m.Sweep} {
		if s.HasKey(key) {
			b, err := ParseBool(s.Key(key).String())
			if err != nil {
				return fmt.Errorf("[%s] %s = %q: want true or false", s.Name(), key, s.Key(key).String())
			}
			*dst = b
		}
	}
	if err := integer(s, "mirror_max_paths", 8, &m.MaxPaths); err != nil {
		return err
	}
	if err := integer(s, "perf_sweep_expiry", 1, &m.SweepExpiry); err != nil {
		return err
	}
	for key, dst := range map[string]*time.Duration{"mirror_path_expiry": &m.PathExpiry, "mirror_max_age": &m.MaxAge, "mirror_wait": &m.Wait} {
		if !s.HasKey(key) {
			continue
		}
		d, err := ParseSeconds(s.Key(key).String())
		if err != nil {
			return fmt.Errorf("[%s] %s: %w", s.Name(), key, err)
		}
		*dst = d
	}
	if m.Wait < time.Second || m.Wait%time.Second != 0 || m.Wait > time.Hour {
		return fmt.Errorf("[%s] mirror_wait = %v: want whole seconds from 1s to 1h", s.Name(), m.Wait)
	}
	if m.MaxAge <= m.Wait {
		return fmt.Errorf("[%s] mirror_max_age = %v must exceed mirror_wait = %v (each poll may take that long to confirm the mirror current)",
			s.Name(), m.MaxAge, m.Wait)
	}
	if m.PathExpiry < time.Minute {
		return fmt.Errorf("[%s] mirror_path_expiry = %v: want at least 1m", s.Name(), m.PathExpiry)
	}
	return nil
}

// ParseSeconds reads a duration written as whole seconds ("90") or in Go
// syntax ("90s", "1h30m"); it must be positive and at most a week.
func ParseSeconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > int64(7*24*time.Hour/time.Second) {
			return 0, fmt.Errorf("%q: want seconds from 1 to 604800", v)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("%q: want seconds (90) or a duration (90s, 1h30m)", v)
	}
	if d <= 0 || d > 7*24*time.Hour {
		return 0, fmt.Errorf("%q: want a positive duration of at most a week", v)
	}
	return d, nil
}
