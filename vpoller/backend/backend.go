// Package backend is what our proxy and our worker add to the vPoller
// backend wire, where the original has only [id][""][request] and
// [id][""][reply]: the worker announces which vCenters it serves, and the
// proxy tells each worker which vCenters it owns or stands by for (see
// docs/broker.md). Both travel where the original's peers never look: the
// announcement in ZMTP handshake metadata (libzmq keeps X- properties
// and ignores them), the assignment in a control message the proxy sends
// only to workers that announced themselves, and that the worker accepts
// only from a proxy that announced itself.
package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Metadata property names.
const (
	// PropWorker carries a worker's Announcement (JSON).
	PropWorker = "X-VPoller-Worker"
	// PropProxy is set ("1") by our proxy.
	PropProxy = "X-VPoller-Proxy"
)

// Bounds of an announcement: what a sane worker sends, far below what a
// hostile one could.
const (
	MaxIDLen       = 255
	MaxServed      = 10000
	MaxNameLen     = 255
	MaxQueue       = 1 << 20
	maxAnnounceLen = 4 << 20
)

// Announcement is what a worker tells a proxy in its handshake.
type Announcement struct {
	// ID names the worker, the same for every proxy and across restarts:
	// every proxy hashes it to rank the workers of a vCenter.
	ID string `json:"id"`
	// Serves lists the vCenters (agent names) it is configured for.
	Serves []string `json:"serves"`
	// Queue is how many requests it takes ahead of its concurrency
	// before it stops reading; the proxy never owes it more.
	Queue int `json:"queue"`
}

// Encode renders a for the metadata property.
func (a Announcement) Encode() string {
	b, _ := json.Marshal(a)
	return string(b)
}

// ParseAnnouncement reads and checks a worker's announcement; the names
// it serves come back sorted and unique.
func ParseAnnouncement(s string) (Announcement, error) {
	var a Announcement
	if len(s) > maxAnnounceLen {
		return a, fmt.Errorf("worker announcement of %d bytes (at most %d)", len(s), maxAnnounceLen)
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		return a, fmt.Errorf("worker announcement: %w", err)
	}
	switch {
	case a.ID == "" || len(a.ID) > MaxIDLen:
		return a, fmt.Errorf("worker announcement: id of %d bytes (1 to %d)", len(a.ID), MaxIDLen)
	case len(a.Serves) > MaxServed:
		return a, fmt.Errorf("worker announcement: %d vCenters (at most %d)", len(a.Serves), MaxServed)
	case a.Queue < 0 || a.Queue > MaxQueue:
		return a, fmt.Errorf("worker announcement: queue %d (0 to %d)", a.Queue, MaxQueue)
	}
	for _, n := range a.Serves {
		if n == "" || len(n) > MaxNameLen {
			return a, fmt.Errorf("worker announcement: vCenter name of %d bytes (1 to %d)", len(n), MaxNameLen)
		}
	}
	slices.Sort(a.Serves)
	a.Serves = slices.Compact(a.Serves)
	return a, nil
}

// ControlTag is the first frame of a control message. A libzmq routing id
// never equals it (automatic ids are 5 bytes, chosen ones cannot start
// with a zero byte), so no request is taken for one.
const ControlTag = "\x00VPOLLER"

// CmdAssign is the control command that carries an Assignment.
const CmdAssign = "assign"

// Assignment is a worker's share of the vCenters, from one proxy.
type Assignment struct {
	Owner   []string `json:"owner"`
	Standby []string `json:"standby"`
}

// Frames is the control message carrying a.
func (a Assignment) Frames() [][]byte {
	if a.Owner == nil {
		a.Owner = []string{}
	}
	if a.Standby == nil {
		a.Standby = []string{}
	}
	b, _ := json.Marshal(a)
	return [][]byte{[]byte(ControlTag), []byte(CmdAssign), b}
}

// IsControl reports whether a message is a control message.
func IsControl(frames [][]byte) bool {
	return len(frames) > 0 && string(frames[0]) == ControlTag
}

// ErrNotControl is returned for a message that is not a control message.
var ErrNotControl = errors.New("not a vPoller control message")

// ParseAssignment reads an assign control message.
func ParseAssignment(frames [][]byte) (Assignment, error) {
	var a Assignment
	if !IsControl(frames) {
		return a, ErrNotControl
	}
	if len(frames) != 3 || string(frames[1]) != CmdAssign {
		return a, fmt.Errorf("control message: want [tag][%q][json], got %d frames", CmdAssign, len(frames))
	}
	d := json.NewDecoder(bytes.NewReader(frames[2]))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		return a, fmt.Errorf("assignment: %w", err)
	}
	return a, nil
}
