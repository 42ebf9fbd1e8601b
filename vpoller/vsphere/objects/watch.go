package objects

import (
	"log/slog"
	"sort"
	"sync"
	"time"
)

// watchSet is the property set the mirror watches, per managed object
// type: the index paths and the default paths (always), plus paths that
// clients asked for (added after a first direct read succeeded, dropped
// when nobody asked for them for expiry). max bounds the paths of one
// type. Each change bumps version and kicks the mirror, which then builds
// a filter for the new set.
type watchSet struct {
	log    *slog.Logger
	max    int
	expiry time.Duration

	mu       sync.Mutex
	fixed    map[string]map[string]bool      // type -> index and default paths
	added    map[string]map[string]time.Time // type -> client path -> last asked
	rejected map[string]bool                 // paths vCenter refused in a filter
	full     map[string]bool                 // types whose cap was reported
	intern   map[string]string
	version  uint64
	kick     chan struct{}
}

func newWatchSet(log *slog.Logger, max int, expiry time.Duration, defaults bool) *watchSet {
	w := &watchSet{log: log, max: max, expiry: expiry, fixed: map[string]map[string]bool{},
		added: map[string]map[string]time.Time{}, rejected: map[string]bool{}, full: map[string]bool{},
		intern: map[string]string{}, kick: make(chan struct{}, 1)}
	for typ, paths := range indexPaths {
		w.fixed[typ] = map[string]bool{}
		for _, p := range paths {
			w.fixed[typ][w.internLocked(p)] = true
		}
		if defaults {
			for _, p := range defaultPaths[typ] {
				w.fixed[typ][w.internLocked(p)] = true
			}
		}
	}
	return w
}

func (w *watchSet) internLocked(p string) string {
	if s, ok := w.intern[p]; ok {
		return s
	}
	w.intern[p] = p
	return p
}

// internPath returns the set's own copy of p when it has one.
func (w *watchSet) internPath(p string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.intern[p]; ok {
		return s
	}
	return p
}

// isFixed tells whether p is one of typ's index or default paths (the
// only ones a mirror that is Off ever watches).
func (w *watchSet) isFixed(typ, p string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fixed[typ][p]
}

// count is the number of paths watched for typ; w.mu is held.
func (w *watchSet) count(typ string) int { return len(w.fixed[typ]) + len(w.added[typ]) }

// touch records that a client asked for paths of typ now (keeps added
// paths from expiring).
func (w *watchSet) touch(typ string, paths []string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range paths {
		if _, ok := w.added[typ][p]; ok {
			w.added[typ][p] = now
		}
	}
}

// offer adds the paths of typ a direct read just returned without fault,
// unless they are watched already, not watchable, refused before, or the
// type is at its cap. It reports whether the set changed.
func (w *watchSet) offer(typ string, paths []string, now time.Time) bool {
	if !Mirrored(typ) {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	for _, p := range paths {
		if w.fixed[typ][p] || w.rejected[p] || !WatchablePath(p) {
			continue
		}
		if _, ok := w.added[typ][p]; ok {
			continue
		}
		if w.count(typ) >= w.max {
			if !w.full[typ] {
				w.full[typ] = true
				w.log.Warn("watched property cap reached: further properties of this type are read from vCenter on each request",
					slog.String("type", typ), slog.Int("cap", w.max), slog.String("path", p))
			}
			continue
		}
		if w.added[typ] == nil {
			w.added[typ] = map[string]time.Time{}
		}
		w.added[typ][w.internLocked(p)] = now
		changed = true
	}
	if changed {
		w.changedLocked()
	}
	return changed
}

func (w *watchSet) changedLocked() {
	w.version++
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// expire drops added paths nobody asked for since now-expiry; it reports
// whether any went.
func (w *watchSet) expire(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	for typ, paths := range w.added {
		for p, at := range paths {
			if now.Sub(at) > w.expiry {
				delete(paths, p)
				changed = true
				w.log.Info("watched property expired: nobody asked for it", slog.String("type", typ), slog.String("path", p))
			}
		}
		if len(paths) < w.max-len(w.fixed[typ]) {
			delete(w.full, typ)
		}
	}
	if changed {
		w.changedLocked()
	}
	return changed
}

// reject stops watching path for every type (vCenter refused it in a
// filter); it reports whether it was watched.
func (w *watchSet) reject(path string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rejected[path] = true
	found := false
	for _, paths := range w.added {
		if _, ok := paths[path]; ok {
			delete(paths, path)
			found = true
		}
	}
	if found {
		w.changedLocked()
	}
	return found
}

// snapshot returns the watched paths per type (each list sorted) and the
// set's version.
func (w *watchSet) snapshot() (map[string][]string, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string][]string, len(w.fixed))
	for typ, fixed := range w.fixed {
		list := make([]string, 0, len(fixed)+len(w.added[typ]))
		for p := range fixed {
			list = append(list, p)
		}
		for p := range w.added[typ] {
			list = append(list, p)
		}
		sort.Strings(list)
		out[typ] = list
	}
	return out, w.version
}

// currentVersion is the set's version.
func (w *watchSet) currentVersion() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.version
}
