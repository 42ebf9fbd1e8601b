package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The positions of the vpoller.events streams survive a restart of the
// agent (or of the plugin) in a state file, as the agent's own log and
// eventlog items resume from a stored position: events made while the
// agent was down are delivered by the first poll after it is back.
//
// A position is written, atomically (temporary file, fsync, rename, fsync
// of the directory), before the poll that moved it returns its lines, so
// a restart never delivers an event twice. Concurrent polls share writes
// (a poll waits for a write that started after its change). The file
// keeps the maxStateStreams most recently polled streams.
const (
	// DefaultEventsStateFile is where the positions are kept unless
	// Plugins.VPoller.EventsStateFile says otherwise: the zabbix user's
	// home of Zabbix's packages, which the plugin package creates for the
	// zabbix user on Debian (whose agent package has none).
	DefaultEventsStateFile = "/var/lib/zabbix/vpoller-events.json"
	// EventsStateOff as Plugins.VPoller.EventsStateFile keeps the
	// positions in memory only.
	EventsStateOff = "off"
	// maxStateStreams bounds the streams the file keeps (the least
	// recently polled are dropped), so that writing it stays cheap.
	maxStateStreams = 1000
	// maxStateBytes bounds the state file read at start.
	maxStateBytes = 8 << 20
	stateVersion  = 1
)

// eventsStateDefault is the default of Plugins.VPoller.EventsStateFile
// (the tests of this package turn it off: they must not touch the host's
// state file).
var eventsStateDefault = DefaultEventsStateFile

// stateFile is the state file's content.
type stateFile struct {
	Version int           `json:"version"`
	Streams []stateStream `json:"streams"`
}

// stateStream is one vpoller.events key's position: the key of the
// newest event it delivered (or skipped past) in its vCenter's stream.
type stateStream struct {
	Host     string    `json:"host"`
	Name     string    `json:"name,omitempty"`
	Endpoint string    `json:"endpoint,omitempty"`
	Key      int64     `json:"key"`
	Polled   time.Time `json:"polled"`
}

func (s stateStream) id() string { return eventID(s.Host, s.Name, s.Endpoint) }

// eventID is a position's map key: the item key's hostname, name and
// endpoint parameters.
func eventID(host, name, endpoint string) string { return host + "\x00" + name + "\x00" + endpoint }

// parseEventState reads a state file. Anything but a well-formed file of
// this version is an error (the caller starts afresh); duplicates keep
// the most recently polled, and at most maxStateStreams are kept, the
// most recently polled.
func parseEventState(b []byte) ([]stateStream, error) {
	if len(b) > maxStateBytes {
		return nil, fmt.Errorf("%d bytes, more than the %d a state file can have", len(b), maxStateBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f stateFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a vpoller.events state file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a vpoller.events state file: data after the JSON object")
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("state file version %d, want %d", f.Version, stateVersion)
	}
	byID := make(map[string]stateStream, len(f.Streams))
	for i, s := range f.Streams {
		if s.Host == "" {
			return nil, fmt.Errorf("stream %d has no host", i)
		}
		if strings.ContainsRune(s.Host+s.Name+s.Endpoint, 0) {
			return nil, fmt.Errorf("stream %d: NUL in a parameter", i)
		}
		if old, ok := byID[s.id()]; !ok || s.Polled.After(old.Polled) {
			byID[s.id()] = s
		}
	}
	out := make([]stateStream, 0, len(byID))
	for _, s := range byID {
		out = append(out, s)
	}
	sortStreams(out)
	if len(out) > maxStateStreams {
		out = out[:maxStateStreams]
	}
	return out, nil
}

// sortStreams orders streams most recently polled first (then by id, so
// that the file's order is stable).
func sortStreams(ss []stateStream) {
	slices.SortFunc(ss, func(a, b stateStream) int {
		if c := b.Polled.Compare(a.Polled); c != 0 {
			return c
		}
		return strings.Compare(a.id(), b.id())
	})
}

// eventStore writes the positions to the state file.
type eventStore struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex // one write at a time
	written uint64     // the positions' version last written
	failing bool       // the last write failed (logged once)
}

// openEventStore prepares the state file at path and reads the positions
// it holds. A directory where the file cannot be written turns
// persistence off (nil store) with a WARN; an unreadable or corrupt file
// is reported and ignored (the streams start afresh). Neither stops the
// plugin.
func openEventStore(path string, log *slog.Logger) (*eventStore, []stateStream) {
	if path == "" || path == EventsStateOff {
		return nil, nil
	}
	off := func(why error) (*eventStore, []stateStream) {
		log.Warn(fmt.Sprintf("Plugins.%s.EventsStateFile %s: %v; vpoller.events positions are kept in memory only (after a restart each stream starts at \"now\")",
			Name, path, why))
		return nil, nil
	}
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, "."+filepath.Base(path)+".probe-*")
	if err != nil {
		return off(fmt.Errorf("directory %s is not writable by the agent's user: %w", dir, err))
	}
	probe.Close()
	os.Remove(probe.Name())
	st := &eventStore{path: path, log: log}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("vpoller.events state file not found; streams start at \"now\"", slog.String("path", path))
		return st, nil
	case err != nil:
		return off(err)
	case !fi.Mode().IsRegular():
		return off(errors.New("not a regular file"))
	}
	streams, err := readEventState(path)
	if err != nil {
		log.Warn(fmt.Sprintf("vpoller.events state file %s cannot be used, starting afresh (it is replaced at the next poll): %v", path, err))
		return st, nil
	}
	log.Info("vpoller.events positions restored", slog.String("path", path), slog.Int("streams", len(streams)))
	return st, streams
}

func readEventState(path string) ([]stateStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	if err != nil {
		return nil, err
	}
	return parseEventState(b)
}

// flush writes the positions unless a write that started after version v
// already did; snap takes them (with their version) at the write's start.
func (st *eventStore) flush(v uint64, snap func() ([]stateStream, uint64)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.written >= v {
		return
	}
	streams, ver := snap()
	if err := writeEventState(st.path, streams); err != nil {
		if !st.failing {
			st.log.Warn(fmt.Sprintf("cannot write the vpoller.events state file %s (a restart may deliver events again): %v", st.path, err))
		}
		st.failing = true
		return
	}
	if st.failing {
		st.log.Info("vpoller.events state file written again", slog.String("path", st.path))
	}
	st.failing, st.written = false, ver
}

// writeEventState replaces the file atomically: a temporary file in the
// same directory, synced, renamed over it, and the directory synced.
func writeEventState(path string, streams []stateStream) error {
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, Streams: streams}, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing left to remove
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		// Readable by all: positions are not secret, and a file left by
		// `zabbix_agent2 -t` run as root stays readable by the agent.
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
