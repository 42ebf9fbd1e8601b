package vsphere

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// Limits of event.get.
const (
	// EventCap is the most events one event.get returns, the size of the
	// agent's event buffer and the page size of its event collectors.
	EventCap = 1000
	// eventDefault is the number of events without key and max-sample.
	eventDefault = 100
	// eventDrainReads bounds the ReadNextEvents calls of one drain: a
	// collector further behind than that many pages is re-primed from its
	// latest page instead of read through.
	eventDrainReads = 3
	// eventQueries bounds the per-object collectors in existence at once
	// (vCenter allows 32 event collectors per session).
	eventQueries = 4

	msgEvents = "Successfully retrieved events"
)

// eventEntities are the objects event.get's name may designate.
var eventEntities = &objects.Kind{Name: "entity", ByURL: true, UUID: true,
	Types: []string{"VirtualMachine", "HostSystem", "Datastore", "ClusterComputeResource", "Datacenter"}}

// eventGet (event.get, ours) returns the agent's events newer than the
// event key in "key", oldest first: without key the newest max-sample
// (default 100), with key at most max-sample (default and cap EventCap),
// the newest ones when more exist, so that a client sees the gap in the
// keys. "name" keeps the events that name one object (VM, host,
// datastore, cluster or datacenter, by name, managed object id or UUID).
// See eventStream for what it costs.
func eventGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	after := int64(math.MinInt64)
	n := eventDefault
	if req.Key != "" {
		k, err := strconv.ParseInt(strings.TrimSpace(req.Key), 10, 64)
		if err != nil {
			return vpoller.Fail(fmt.Sprintf("Invalid event key %s: want the integer key of the last event seen", req.Key))
		}
		after, n = k, EventCap
	}
	if req.MaxSample > 0 {
		n = req.MaxSample
	}
	n = min(n, EventCap)
	var ref *types.ManagedObjectReference
	if req.Name != "" {
		r, err := a.store.Lookup(ctx, eventEntities, req.Name)
		if err != nil {
			return fail(req, err)
		}
		ref = &r
	}
	rows, err := a.events.get(ctx, ref, after, n)
	if err != nil {
		return fail(req, err)
	}
	out := make([]any, len(rows))
	for i := range rows {
		out[i] = rows[i].object()
	}
	return vpoller.OK(msgEvents, out)
}

// eventRow is one event as event.get reports it, plus the objects it
// names (for the name filter).
type eventRow struct {
	key                 int32
	created             time.Time
	typ, severity       string
	message             string
	entity, entityMoRef string // "" = none
	user                string
	refs                []types.ManagedObjectReference
}

func (r *eventRow) object() vpoller.Object {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return vpoller.Object{
		{Key: "key", Value: int64(r.key)},
		{Key: "createdTime", Value: pyTime(r.created)},
		{Key: "eventType", Value: r.typ},
		{Key: "severity", Value: r.severity},
		{Key: "message", Value: r.message},
		{Key: "entity", Value: null(r.entity)},
		{Key: "entityMoRef", Value: null(r.entityMoRef)},
		{Key: "userName", Value: null(r.user)},
	}
}

// names reports whether the event names ref.
func (r *eventRow) names(ref types.ManagedObjectReference) bool {
	return slices.Contains(r.refs, ref)
}

// newEventRow converts an event; cats are the event categories of the
// agent's event manager (see severity).
func newEventRow(be types.BaseEvent, cats map[string]string) eventRow {
	e := be.GetEvent()
	r := eventRow{key: e.Key, created: e.CreatedTime, typ: eventTypeName(be), message: e.FullFormattedMessage, user: e.UserName}
	r.severity = severity(be, r.typ, cats)
	// The entity arguments, most specific first.
	add := func(ref types.ManagedObjectReference, name string) {
		if ref.Value == "" {
			return
		}
		r.refs = append(r.refs, ref)
		if r.entityMoRef == "" {
			r.entity, r.entityMoRef = name, ref.Value
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

// eventStream is one agent's view of its vCenter's event stream: ONE
// EventHistoryCollector over every event (root folder, recursive), read
// forward with ReadNextEvents, and a buffer of the newest EventCap
// events it delivered. Requests are answered from the buffer after a
// drain of the collector (one ReadNextEvents when nothing is pending;
// concurrent requests share a drain that started after they arrived, so
// every reply includes every event vCenter had when the request came).
//
// Priming (first use, after a session loss, and when a drain finds the
// collector more than eventDrainReads pages behind) costs
// CreateCollectorForEvents (first use and session loss only),
// ResetCollector and one read of the collector's latestPage (the newest
// EventCap events); vCenter's next ReadNextEvents returns that page once
// more (skipped by key). The collector belongs to the vCenter session: a
// re-login (the session room's generation changes) or a
// ManagedObjectNotFound for it means a new one, primed from vCenter's
// history, so no event vCenter still keeps is lost. Close destroys it.
//
// A request with name is answered from the buffer too when the buffer
// holds every event after its key (or max-sample matching events);
// otherwise it costs a collector of its own filtered on the object
// (CreateCollectorForEvents, a latestPage read, DestroyCollector: three
// calls), at most eventQueries at once.
type eventStream struct {
	sess *session.Session
	size int // buffer and page size: EventCap (tests make it smaller)

	mu   sync.Mutex
	coll *event.HistoryCollector // nil until primed, and after a loss
	gen  uint64                  // session generation coll was created in
	rows []eventRow              // ascending keys, at most EventCap
	// floor: rows hold every event with a key above it; math.MinInt64
	// when they hold every event vCenter keeps.
	floor   int64
	drained time.Time // start of the last successful drain
	// reprime: coll's read position is unknown (new, or a read failed
	// and vCenter may have moved it): prime before reading on.
	reprime bool
	cats    map[string]string // event categories by type; read-only once set
	closed  bool

	queries chan struct{} // per-object collector slots
}

func newEventStream(sess *session.Session) *eventStream {
	return &eventStream{sess: sess, size: EventCap, queries: make(chan struct{}, eventQueries)}
}

// get returns the newest n events with a key above after (math.MinInt64:
// any), oldest first; with ref only the events that name ref.
func (s *eventStream) get(ctx context.Context, ref *types.ManagedObjectReference, after int64, n int) ([]eventRow, error) {
	arrived := time.Now()
	s.mu.Lock()
	err := s.refresh(ctx, arrived)
	var rows []eventRow
	covered := true
	if err == nil {
		rows, covered = s.pick(ref, after, n)
	}
	cats := s.cats
	s.mu.Unlock()
	if err != nil || covered {
		return rows, err
	}
	return s.query(ctx, *ref, after, n, cats)
}

// pick selects from the buffer (locked) and says whether the buffer
// could answer: it holds every event after after, or n matching ones.
func (s *eventStream) pick(ref *types.ManagedObjectReference, after int64, n int) ([]eventRow, bool) {
	var out []eventRow
	for i := len(s.rows) - 1; i >= 0 && len(out) < n; i-- {
		r := s.rows[i]
		if int64(r.key) <= after {
			break
		}
		if ref == nil || r.names(*ref) {
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	return out, after >= s.floor || len(out) >= n || ref == nil
}

// refresh brings the buffer up to date (locked): it drains the collector
// unless a drain started after the request arrived, creating and priming
// the collector first when there is none or it belongs to an old session.
func (s *eventStream) refresh(ctx context.Context, arrived time.Time) error {
	if s.closed {
		return session.ErrClosed
	}
	if s.coll != nil && s.gen == s.sess.Generation() && !s.drained.Before(arrived) {
		return nil
	}
	start := time.Now()
	err := s.drain(ctx)
	if objects.IsObjectGone(err) {
		// vCenter no longer knows the collector: its session ended, and
		// the call's re-login made a new one where it does not exist.
		s.coll = nil
		err = s.drain(ctx)
	}
	if err != nil {
		return err
	}
	s.drained = start
	return nil
}

// drain reads what the collector has beyond the buffer (locked). After
// a failure the collector is primed again: a read that failed may still
// have moved its position past events it never delivered.
func (s *eventStream) drain(ctx context.Context) (err error) {
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
		for range eventDrainReads {
			evs, err := s.coll.ReadNextEvents(ctx, int32(s.size))
			if err != nil {
				return err
			}
			s.append(s.convert(evs))
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
func (s *eventStream) prime(ctx context.Context) error {
	if err := s.coll.Reset(ctx); err != nil {
		return err
	}
	page, err := s.coll.LatestPage(ctx)
	if err != nil {
		return err
	}
	s.reprime = false
	rows := s.convert(page)
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
	case len(s.rows) == 0 || int64(rows[0].key) > int64(s.rows[len(s.rows)-1].key)+1:
		// A full page that does not reach back to the buffer: events
		// may be missing in between, so the buffer restarts at the page.
		s.rows, s.floor = nil, int64(rows[0].key)-1
	}
	merged := make([]eventRow, 0, len(s.rows)+len(rows))
	i, j := 0, 0
	for i < len(s.rows) || j < len(rows) {
		switch {
		case j == len(rows) || (i < len(s.rows) && s.rows[i].key < rows[j].key):
			merged = append(merged, s.rows[i])
			i++
		case i == len(s.rows) || rows[j].key < s.rows[i].key:
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
func (s *eventStream) append(rows []eventRow) {
	for _, r := range rows {
		if len(s.rows) == 0 || r.key > s.rows[len(s.rows)-1].key {
			s.rows = append(s.rows, r)
		}
	}
	s.trim()
}

// trim keeps the newest size rows (locked).
func (s *eventStream) trim() {
	if over := len(s.rows) - s.size; over > 0 {
		s.floor = max(s.floor, int64(s.rows[over-1].key))
		s.rows = slices.Delete(s.rows, 0, over)
	}
}

// convert turns events into rows in ascending key order.
func (s *eventStream) convert(evs []types.BaseEvent) []eventRow {
	rows := make([]eventRow, 0, len(evs))
	for _, be := range evs {
		if be != nil {
			rows = append(rows, newEventRow(be, s.cats))
		}
	}
	slices.SortStableFunc(rows, func(a, b eventRow) int { return int(a.key) - int(b.key) })
	return rows
}

// loadCategories reads the event manager's description.eventInfo once
// per agent (static data; locked).
func (s *eventStream) loadCategories(ctx context.Context) error {
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
func (s *eventStream) query(ctx context.Context, ref types.ManagedObjectReference, after int64, n int, cats map[string]string) ([]eventRow, error) {
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
		MaxCount: EventCap,
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Destroy(context.WithoutCancel(ctx)) }()
	page, err := c.LatestPage(ctx)
	if err != nil {
		return nil, err
	}
	tmp := eventStream{cats: cats}
	rows := tmp.convert(page)
	i := len(rows)
	for i > 0 && int64(rows[i-1].key) > after && len(rows)-i < n {
		i--
	}
	return rows[i:], nil
}

// close destroys the collector (before the session logs out).
func (s *eventStream) close() {
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
