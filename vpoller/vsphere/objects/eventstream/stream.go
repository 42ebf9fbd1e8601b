// Package eventstream keeps one agent's view of its vCenter's event stream,
// so that event.get answers each request with the events newer than the
// key it names without asking vCenter for history every time.
//
// vCenter's EventHistoryCollector belongs to the session that made it,
// pages at most 1,000 events, and forgets its read position when too far
// behind; vCenter allows 32 per session. So an agent keeps ONE collector
// over every event (root folder, recursive), read forward, and a buffer
// of the newest events it delivered; requests are answered from the
// buffer after a drain of the collector that began after they arrived
// (requests in flight share it, an objects.Snapshot), so a reply has
// every event vCenter had when its request came. A session loss means a
// new collector primed from vCenter's history, so no event vCenter still
// keeps is lost. A request for one object's events that the buffer no
// longer reaches back for costs a collector of its own, filtered on the
// object.
package eventstream

import (
	"cmp"
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

const (
	// Cap is the default size of the buffer and of the collectors'
	// pages: the most events one request can get.
	Cap = 1000
	// drainReads bounds the ReadNextEvents calls of one drain: a
	// collector further behind than that many pages is re-primed from its
	// latest page instead of read through.
	drainReads = 3
	// drainCalls is the most calls one drain makes: a login, the event
	// categories, CreateCollectorForEvents, drainReads reads,
	// ResetCollector and the latest page.
	drainCalls = drainReads + 5
	// queries bounds the per-object collectors in existence at once
	// (vCenter allows 32 event collectors per session).
	queries = 4
)

// Session is what the stream needs of a vSphere session (the session
// room's Session): a client, and which login it is on, since a collector
// lives and dies with its session.
type Session interface {
	Client(ctx context.Context) (*vim25.Client, error)
	// Generation changes at every login.
	Generation() uint64
	// Connected is the client when logged in, nil otherwise.
	Connected() *vim25.Client
}

// Options tune a Stream. Zero values take the defaults.
type Options struct {
	// Size is the buffer and page size (Cap when zero; tests make it
	// smaller).
	Size int
	// Timeout is the agent's per-call time limit (objects.DefaultTimeout
	// when zero). A drain, shared by the requests that wait for it,
	// makes up to drainCalls calls and is bounded by as many limits.
	Timeout time.Duration
}

// Event is one event as event.get reports it, plus the objects it names
// (for the name filter).
type Event struct {
	Key                 int32
	Created             time.Time
	Type, Severity      string
	Message             string
	Entity, EntityMoRef string // "" = none
	User                string
	Refs                []types.ManagedObjectReference
}

// Names reports whether the event names ref.
func (r *Event) Names(ref types.ManagedObjectReference) bool {
	return slices.Contains(r.Refs, ref)
}

// newEvent converts an event; cats are the event categories of the
// agent's event manager (see severity).
func newEvent(be types.BaseEvent, cats map[string]string) Event {
	e := be.GetEvent()
	r := Event{Key: e.Key, Created: e.CreatedTime, Type: eventTypeName(be), Message: e.FullFormattedMessage, User: e.UserName}
	r.Severity = severity(be, r.Type, cats)
	// The entity arguments, most specific first.
	add := func(ref types.ManagedObjectReference, name string) {
		if ref.Value == "" {
			return
		}
		r.Refs = append(r.Refs, ref)
		if r.EntityMoRef == "" {
			r.Entity, r.EntityMoRef = name, ref.Value
		}
	}
	if e.Vm != nil {
		add(e.Vm.Vm, e.Vm.Name)
	}
	if e.Host != nil {
		add(e.Host.Host, e.Host.Name)
	}
	if e.Ds != nil {
		add(e.Ds.Datastore, e.Ds.Name)
	}
	if e.Net != nil {
		add(e.Net.Network, e.Net.Name)
	}
	if e.Dvs != nil {
		add(e.Dvs.Dvs, e.Dvs.Name)
	}
	if e.ComputeResource != nil {
		add(e.ComputeResource.ComputeResource, e.ComputeResource.Name)
	}
	if e.Datacenter != nil {
		add(e.Datacenter.Datacenter, e.Datacenter.Name)
	}
	if x, ok := be.(*types.EventEx); ok && x.ObjectId != "" && x.ObjectType != "" {
		add(types.ManagedObjectReference{Type: x.ObjectType, Value: x.ObjectId}, x.ObjectName)
	}
	return r
}

// eventTypeName is the event's vSphere type name (VmPoweredOffEvent);
// for EventEx and ExtendedEvent, whose type says nothing, their
// eventTypeId (com.vmware.vc.HA.DasHostFailedEvent).
func eventTypeName(be types.BaseEvent) string {
	switch x := be.(type) {
	case *types.EventEx:
		if x.EventTypeId != "" {
			return x.EventTypeId
		}
	case *types.ExtendedEvent:
		if x.EventTypeId != "" {
			return x.EventTypeId
		}
	}
	t := reflect.TypeOf(be)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// severity is "info", "warning", "error" or "user":
//
//  1. an EventEx's own severity, when it is one of these;
//  2. an AlarmStatusChangedEvent's new status: red -> error,
//     yellow -> warning, otherwise info;
//  3. the category vCenter's event manager gives the event type
//     (description.eventInfo, by type name or eventTypeId);
//  4. otherwise info.
func severity(be types.BaseEvent, typ string, cats map[string]string) string {
	switch x := be.(type) {
	case *types.EventEx:
		if validSeverity(x.Severity) {
			return x.Severity
		}
	case *types.AlarmStatusChangedEvent:
		switch types.ManagedEntityStatus(x.To) {
		case types.ManagedEntityStatusRed:
			return "error"
		case types.ManagedEntityStatusYellow:
			return "warning"
		}
		return "info"
	}
	if c := cats[typ]; validSeverity(c) {
		return c
	}
	return "info"
}

func validSeverity(s string) bool {
	switch s {
	case "info", "warning", "error", "user":
		return true
	}
	return false
}

// Stream is one agent's view of its vCenter's event stream: ONE
// EventHistoryCollector over every event (root folder, recursive), read
// forward with ReadNextEvents, and a buffer of the newest Size events it
// delivered. Requests are answered from the buffer after a drain of the
// collector (one ReadNextEvents when nothing is pending; concurrent
// requests share a drain that started after they arrived, so every
// reply includes every event vCenter had when the request came).
//
// Priming (first use, after a session loss, and when a drain finds the
// collector more than drainReads pages behind) costs
// CreateCollectorForEvents (first use and session loss only),
// ResetCollector and one read of the collector's latestPage (the newest
// Size events); vCenter's next ReadNextEvents returns that page once
// more (skipped by key). The collector belongs to the vCenter session: a
// re-login (the session's generation changes) or a ManagedObjectNotFound
// for it means a new one, primed from vCenter's history, so no event
// vCenter still keeps is lost. Close destroys it.
//
// A request with an object is answered from the buffer too when the
// buffer holds every event after its key (or n matching events);
// otherwise it costs a collector of its own filtered on the object
// (CreateCollectorForEvents, a latestPage read, DestroyCollector: three
// calls), at most 4 at once.
type Stream struct {
	sess   Session
	size   int
	drains *objects.Snapshot[struct{}] // the drains, shared by the requests that wait for them

	mu   sync.Mutex
	coll *event.HistoryCollector // nil until primed, and after a loss
	gen  uint64                  // session generation coll was created in
	rows []Event                 // ascending keys, at most size
	// floor: rows hold every event with a key above it; math.MinInt64
	// when they hold every event vCenter keeps.
	floor int64
	// reprime: coll's read position is unknown (new, or a read failed
	// and vCenter may have moved it): prime before reading on.
	reprime bool
	cats    map[string]string // event categories by type; read-only once set
	closed  bool

	queries chan struct{} // per-object collector slots
}

// New prepares the stream of the agent whose session is sess; it does no
// network work.
func New(sess Session, o Options) *Stream {
	if o.Size <= 0 {
		o.Size = Cap
	}
	s := &Stream{sess: sess, size: o.Size, queries: make(chan struct{}, queries)}
	// No TTL: a drain serves the requests that arrived before it began.
	s.drains = objects.NewSnapshot(objects.SnapshotOptions{What: "the event stream",
		Timeout: drainCalls * cmp.Or(o.Timeout, objects.DefaultTimeout)}, s.refresh)
	return s
}

// Get returns the newest n events with a key above after (math.MinInt64:
// any), oldest first; with ref only the events that name ref.
// Size is the most events one Get returns: the buffer's size.
func (s *Stream) Size() int { return s.size }

func (s *Stream) Get(ctx context.Context, ref *types.ManagedObjectReference, after int64, n int) ([]Event, error) {
	if _, err := s.drains.GetSince(ctx, s.drains.Now()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, objects.ErrClosed
	}
	rows, covered := s.pick(ref, after, n)
	cats := s.cats
	s.mu.Unlock()
	if covered {
		return rows, nil
	}
	return s.query(ctx, *ref, after, n, cats)
}

// pick selects from the buffer (locked) and says whether the buffer
// could answer: it holds every event after after, or n matching ones.
func (s *Stream) pick(ref *types.ManagedObjectReference, after int64, n int) ([]Event, bool) {
	var out []Event
	for i := len(s.rows) - 1; i >= 0 && len(out) < n; i-- {
		r := s.rows[i]
		if int64(r.Key) <= after {
			break
		}
		if ref == nil || r.Names(*ref) {
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	return out, after >= s.floor || len(out) >= n || ref == nil
}

// refresh brings the buffer up to date: it drains the collector,
// creating and priming it first when there is none or it belongs to an
// old session.
func (s *Stream) refresh(ctx context.Context, _ time.Time) (struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return struct{}{}, objects.ErrClosed
	}
	err := s.drain(ctx)
	if objects.IsObjectGone(err) {
		// vCenter no longer knows the collector: its session ended, and
		// the call's re-login made a new one where it does not exist.
		s.coll = nil
		err = s.drain(ctx)
	}
	return struct{}{}, err
}

// drain reads what the collector has beyond the buffer (locked). After
// a failure the collector is primed again: a read that failed may still
// have moved its position past events it never delivered.
func (s *Stream) drain(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.reprime = true
		}
	}()
	vc, err := s.sess.Client(ctx)
	if err != nil {
		return err
	}
	if vc.ServiceContent.EventManager == nil {
		return errors.New("no event manager on this vSphere agent")
	}
	if s.cats == nil {
		if err := s.loadCategories(ctx); err != nil {
			return err
		}
	}
	if s.coll != nil && s.gen != s.sess.Generation() {
		s.coll = nil // it lived in a session that is gone
	}
	if s.coll == nil {
		gen := s.sess.Generation()
		root := vc.ServiceContent.RootFolder
		c, err := event.NewManager(vc).CreateCollectorForEvents(ctx, types.EventFilterSpec{
			Entity:   &types.EventFilterSpecByEntity{Entity: root, Recursion: types.EventFilterSpecRecursionOptionAll},
			MaxCount: int32(s.size),
		})
		if err != nil {
			return err
		}
		s.coll, s.gen, s.reprime = c, gen, true
	}
	if !s.reprime {
		for range drainReads {
			evs, err := s.coll.ReadNextEvents(ctx, int32(s.size))
			if err != nil {
				return err
			}
			s.append(convert(evs, s.cats))
			if len(evs) < s.size {
				return nil
			}
		}
	}
	return s.prime(ctx) // new, unsure, or far behind: from the newest page
}

// prime positions the collector at its latest page and merges that page
// into the buffer (locked). ResetCollector comes first: vCenter then
// reads forward from just before the latest page, the simulator from
// its newest event, and either way nothing after the page read is missed.
func (s *Stream) prime(ctx context.Context) error {
	if err := s.coll.Reset(ctx); err != nil {
		return err
	}
	page, err := s.coll.LatestPage(ctx)
	if err != nil {
		return err
	}
	s.reprime = false
	rows := convert(page, s.cats)
	switch {
	case len(rows) == 0:
		if len(s.rows) == 0 {
			s.floor = math.MinInt64
		}
		return nil
	case len(page) < s.size:
		// The whole history: nothing can be missing.
		if len(s.rows) == 0 {
			s.floor = math.MinInt64
		}
	case len(s.rows) == 0 || int64(rows[0].Key) > int64(s.rows[len(s.rows)-1].Key)+1:
		// A full page that does not reach back to the buffer: events
		// may be missing in between, so the buffer restarts at the page.
		s.rows, s.floor = nil, int64(rows[0].Key)-1
	}
	merged := make([]Event, 0, len(s.rows)+len(rows))
	i, j := 0, 0
	for i < len(s.rows) || j < len(rows) {
		switch {
		case j == len(rows) || (i < len(s.rows) && s.rows[i].Key < rows[j].Key):
			merged = append(merged, s.rows[i])
			i++
		case i == len(s.rows) || rows[j].Key < s.rows[i].Key:
			merged = append(merged, rows[j])
			j++
		default: // the same event
			merged = append(merged, rows[j])
			i++
			j++
		}
	}
	s.rows = merged
	s.trim()
	return nil
}

// append adds events read forward (locked): those beyond the buffer's
// newest, in key order.
func (s *Stream) append(rows []Event) {
	for _, r := range rows {
		if len(s.rows) == 0 || r.Key > s.rows[len(s.rows)-1].Key {
			s.rows = append(s.rows, r)
		}
	}
	s.trim()
}

// trim keeps the newest size rows (locked).
func (s *Stream) trim() {
	if over := len(s.rows) - s.size; over > 0 {
		s.floor = max(s.floor, int64(s.rows[over-1].Key))
		s.rows = slices.Delete(s.rows, 0, over)
	}
}

// convert turns events into rows in ascending key order; cats are the
// event categories (see severity).
func convert(evs []types.BaseEvent, cats map[string]string) []Event {
	rows := make([]Event, 0, len(evs))
	for _, be := range evs {
		if be != nil {
			rows = append(rows, newEvent(be, cats))
		}
	}
	slices.SortStableFunc(rows, func(a, b Event) int { return int(a.Key) - int(b.Key) })
	return rows
}

// loadCategories reads the event manager's description.eventInfo once
// per agent (static data; locked).
func (s *Stream) loadCategories(ctx context.Context) error {
	vc, err := s.sess.Client(ctx)
	if err != nil {
		return err
	}
	cats, err := categories(ctx, vc)
	if err != nil {
		return err
	}
	s.cats = cats
	return nil
}

func categories(ctx context.Context, vc *vim25.Client) (map[string]string, error) {
	var em mo.EventManager
	if err := property.DefaultCollector(vc).RetrieveOne(ctx, *vc.ServiceContent.EventManager, []string{"description.eventInfo"}, &em); err != nil {
		return nil, err
	}
	cats := make(map[string]string, len(em.Description.EventInfo))
	for _, info := range em.Description.EventInfo {
		cats[info.Key] = info.Category
	}
	return cats, nil
}

// query answers a name request the buffer cannot: a collector filtered
// on ref, its latest page, and its destruction.
func (s *Stream) query(ctx context.Context, ref types.ManagedObjectReference, after int64, n int, cats map[string]string) ([]Event, error) {
	select {
	case s.queries <- struct{}{}:
		defer func() { <-s.queries }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	vc, err := s.sess.Client(ctx)
	if err != nil {
		return nil, err
	}
	c, err := event.NewManager(vc).CreateCollectorForEvents(ctx, types.EventFilterSpec{
		Entity:   &types.EventFilterSpecByEntity{Entity: ref, Recursion: types.EventFilterSpecRecursionOptionSelf},
		MaxCount: int32(s.size),
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Destroy(context.WithoutCancel(ctx)) }()
	page, err := c.LatestPage(ctx)
	if err != nil {
		return nil, err
	}
	rows := convert(page, cats)
	i := len(rows)
	for i > 0 && int64(rows[i-1].Key) > after && len(rows)-i < n {
		i--
	}
	return rows[i:], nil
}

// Close destroys the collector (before the session logs out); Get fails
// after it.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.coll != nil && s.gen == s.sess.Generation() && s.sess.Connected() != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.coll.Destroy(ctx)
	}
	s.coll, s.rows = nil, nil
}
