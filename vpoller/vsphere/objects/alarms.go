package objects

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// Alarm states are computed by vCenter and raised without a property
// change the mirror could rely on (the simulator, for one, notifies no
// collector), so they are read from vCenter, but at a fixed cost: one
// RetrievePropertiesEx through the container view reads triggeredAlarmState
// of every alarm-bearing object (one PropertySpec per type), and that
// snapshot answers every <kind>.alarm.get for at most AlarmMaxAge. The
// cost is one call per AlarmMaxAge per agent, whatever the number of
// objects and Zabbix items.

const (
	// DefaultAlarmMaxAge bounds the age of the alarm snapshot a request
	// is answered from: 20 s, vCenter's real-time sample period, so an
	// alarm raised shows within one real-time sample of the metrics it
	// is usually about.
	DefaultAlarmMaxAge = 20 * time.Second
	// alarmNameTTL is how long an alarm definition's name (info.name of
	// the Alarm object) is cached: definitions are rarely renamed, so a
	// steady state costs no name call; a renamed alarm shows within it.
	alarmNameTTL  = 10 * time.Minute
	pathAlarms    = "triggeredAlarmState"
	pathAlarmName = "info.name"
)

// alarmKind is every type of the <kind>.alarm.get methods, read together.
var alarmKind = &Kind{Name: "alarm-bearing object",
	Types: []string{"ClusterComputeResource", "Datacenter", "Datastore", "HostSystem", "VirtualMachine"}}

// AlarmSnapshot is the triggered alarm states of every alarm-bearing
// object at one time, with the names of their alarms.
type AlarmSnapshot struct {
	// Taken is when the read began: the states are at least that recent.
	Taken  time.Time
	states map[types.ManagedObjectReference][]types.AlarmState
	names  map[types.ManagedObjectReference]string // known names only
}

// States returns ref's triggered alarm states: none for an object the
// snapshot does not hold (one created since it was taken has none yet
// as far as the bound goes).
func (a *AlarmSnapshot) States(ref types.ManagedObjectReference) []types.AlarmState {
	return a.states[ref]
}

// Name is the name of the alarm definition alarm; false when vCenter no
// longer has it (deleted since it triggered).
func (a *AlarmSnapshot) Name(alarm types.ManagedObjectReference) (string, bool) {
	n, ok := a.names[alarm]
	return n, ok
}

// alarmName is a cached alarm definition name.
type alarmName struct {
	name   string
	loaded time.Time
}

// alarmCache holds an agent's alarm snapshot and the alarm names.
type alarmCache struct {
	snap *Snapshot[*AlarmSnapshot]

	mu    sync.Mutex
	names map[types.ManagedObjectReference]alarmName
}

func (s *Store) newAlarmCache(maxAge time.Duration) *alarmCache {
	if maxAge <= 0 {
		maxAge = DefaultAlarmMaxAge
	}
	c := &alarmCache{names: map[types.ManagedObjectReference]alarmName{}}
	c.snap = NewSnapshot(SnapshotOptions{What: "alarm states", TTL: maxAge, Timeout: s.timeout, Logger: s.log, Now: s.now},
		s.readAlarms)
	return c
}

// Alarms returns an alarm snapshot taken less than the store's alarm
// bound ago (AlarmMaxAge), reading a new one when the current one is
// older: concurrent requests share that read and wait for it. The read
// runs on its own time limit (the agent's call timeout), so that a
// requester giving up does not fail the others sharing it.
func (s *Store) Alarms(ctx context.Context) (*AlarmSnapshot, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	return s.alarms.snap.Get(ctx)
}

// readAlarms reads every alarm-bearing object's triggeredAlarmState with
// one call, then the names of alarms not cached (or cached longer than
// alarmNameTTL) with one more.
func (s *Store) readAlarms(ctx context.Context, taken time.Time) (*AlarmSnapshot, error) {
	c := s.alarms
	s.direct.Add(1)
	contents, err := s.retrieveKind(ctx, alarmKind, []string{pathAlarms})
	if err != nil {
		return nil, fmt.Errorf("read triggered alarm states: %w", err)
	}
	snap := &AlarmSnapshot{Taken: taken, states: map[types.ManagedObjectReference][]types.AlarmState{},
		names: map[types.ManagedObjectReference]string{}}
	used := map[types.ManagedObjectReference]bool{}
	for _, o := range contents {
		for _, p := range o.PropSet {
			var states []types.AlarmState
			switch v := p.Val.(type) {
			case types.ArrayOfAlarmState:
				states = v.AlarmState
			case []types.AlarmState:
				states = v
			}
			if len(states) > 0 {
				snap.states[o.Obj] = states
			}
			for _, st := range states {
				used[st.Alarm] = true
			}
		}
	}
	now := s.now()
	var missing []types.ManagedObjectReference
	c.mu.Lock()
	for ref := range used {
		if n, ok := c.names[ref]; ok && now.Sub(n.loaded) < alarmNameTTL {
			snap.names[ref] = n.name
		} else {
			missing = append(missing, ref)
		}
	}
	c.mu.Unlock()
	if len(missing) > 0 {
		vc, err := s.c.Client(ctx)
		if err != nil {
			return nil, err
		}
		vals, err := retrieve(ctx, vc, missing, []string{pathAlarmName}) // alarms are not in the view: one call for them all
		if err != nil && !IsObjectGone(err) {
			return nil, fmt.Errorf("read alarm names: %w", err)
		}
		c.mu.Lock()
		for _, ref := range missing {
			if v, ok := vals[ref]; ok {
				name, _ := v[pathAlarmName].(string)
				snap.names[ref] = name
				c.names[ref] = alarmName{name: name, loaded: now}
			}
		}
		c.mu.Unlock()
	}
	return snap, nil
}
