package vsphere

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	govsession "github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects/eventstream"
)

// ev is an event.get result row, decoded for assertions.
type ev struct {
	key                             int64
	created, typ, severity, message string
	entity, entityMoRef, user       any
}

const eventKeys = "key,createdTime,eventType,severity,message,entity,entityMoRef,userName"

// events runs event.get and decodes its rows, checking their shape and
// their ascending keys.
func events(t *testing.T, s *Service, req vpoller.Request) []ev {
	t.Helper()
	req.Method = "event.get"
	return decodeEvents(t, exec(t, s, req))
}

func decodeEvents(t *testing.T, r *vpoller.Response) []ev {
	t.Helper()
	if r.Success != 0 || r.Msg != "Successfully retrieved events" {
		t.Fatalf("event.get: %s", r.Encode(vpoller.Python))
	}
	list, ok := r.Result.([]any)
	if !ok {
		t.Fatalf("result %T", r.Result)
	}
	out := make([]ev, len(list))
	for i, x := range list {
		o := x.(vpoller.Object)
		if keysOf(o) != eventKeys {
			t.Fatalf("row keys %s, want %s", keysOf(o), eventKeys)
		}
		e := ev{key: field(o, "key").(int64), created: field(o, "createdTime").(string), typ: field(o, "eventType").(string),
			severity: field(o, "severity").(string), message: field(o, "message").(string),
			entity: field(o, "entity"), entityMoRef: field(o, "entityMoRef"), user: field(o, "userName")}
		if i > 0 && e.key <= out[i-1].key {
			t.Fatalf("keys not ascending: %d after %d", e.key, out[i-1].key)
		}
		out[i] = e
	}
	return out
}

func newest(t *testing.T, s *Service) int64 {
	t.Helper()
	l := events(t, s, vpoller.Request{MaxSample: 1})
	if len(l) != 1 {
		t.Fatalf("%d events for max-sample 1", len(l))
	}
	return l[0].key
}

func key(k int64) string { return strconv.FormatInt(k, 10) }

func typesOf(l []ev) []string {
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.typ
	}
	return out
}

// power switches a VM off or on as another vSphere user would (found
// with that user's own client: the agent's index is not involved).
func power(t *testing.T, c *govmomi.Client, vm string, on bool) {
	t.Helper()
	o, err := find.NewFinder(c.Client).VirtualMachine(t.Context(), vm)
	if err != nil {
		t.Fatal(err)
	}
	task, err := o.PowerOff(t.Context())
	if on {
		task, err = o.PowerOn(t.Context())
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func post(t testing.TB, c *govmomi.Client, e types.BaseEvent) {
	t.Helper()
	if _, err := methods.PostEvent(context.Background(), c.Client, &types.PostEvent{This: *c.ServiceContent.EventManager, EventToPost: e}); err != nil {
		t.Fatal(err)
	}
}

// postMany posts n user events (GeneralUserEvent: no entity), eight at
// a time.
func postMany(t testing.TB, c *govmomi.Client, n int) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			_, err := methods.PostEvent(context.Background(), c.Client, &types.PostEvent{This: *c.ServiceContent.EventManager,
				EventToPost: &types.GeneralUserEvent{GeneralEvent: types.GeneralEvent{Message: fmt.Sprintf("filler %d", i)}}})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// subsequence reports whether want appears in got in order.
func subsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

var pyTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d$`)

// TestEventGet: power operations and a login made in the simulator come
// back in order with their types, entities and users; with key only
// newer events; nothing twice.
func TestEventGet(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	k0 := newest(t, s)
	c := admin(t, a) // its login is an event too
	power(t, c, "DC0_H0_VM0", false)
	power(t, c, "DC0_H0_VM0", true)
	vm0 := lookup(t, a, objects.VM, "DC0_H0_VM0").Value

	got := events(t, s, vpoller.Request{Key: key(k0)})
	want := []string{"UserLoginSessionEvent", "VmStoppingEvent", "VmPoweredOffEvent", "VmStartingEvent", "VmPoweredOnEvent"}
	if !slices.Equal(typesOf(got), want) {
		t.Fatalf("events after %d: %v, want %v", k0, typesOf(got), want)
	}
	if got[0].key <= k0 {
		t.Fatalf("key %d not after %d", got[0].key, k0)
	}
	login, off := got[0], got[2]
	if login.entity != nil || login.entityMoRef != nil || login.user != "user" || login.severity != "info" {
		t.Errorf("login event %+v", login)
	}
	if off.entity != "DC0_H0_VM0" || off.entityMoRef != vm0 || off.user != "user" || off.severity != "info" ||
		!strings.Contains(off.message, "DC0_H0_VM0") || !strings.Contains(off.message, "powered off") || !pyTimeRE.MatchString(off.created) {
		t.Errorf("power-off event %+v", off)
	}

	// With the newest key: nothing; with an intermediate one: the rest.
	if l := events(t, s, vpoller.Request{Key: key(got[4].key)}); len(l) != 0 {
		t.Errorf("after the newest key: %v", typesOf(l))
	}
	if l := events(t, s, vpoller.Request{Key: key(got[2].key)}); !slices.Equal(typesOf(l), want[3:]) {
		t.Errorf("after the power-off: %v", typesOf(l))
	}
	// Without key: the newest max-sample, oldest first.
	if l := events(t, s, vpoller.Request{MaxSample: 2}); !slices.Equal(typesOf(l), want[3:]) || l[1].key != got[4].key {
		t.Errorf("newest 2: %+v", l)
	}

	r := exec(t, s, vpoller.Request{Method: "event.get", Key: "last"})
	if r.Success != 1 || !strings.HasPrefix(r.Msg, "Invalid event key last") {
		t.Errorf("bad key: %s", r.Encode(vpoller.Python))
	}
}

// TestEventGetSeverity follows the documented rule.
func TestEventGetSeverity(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	c := admin(t, a)
	k0 := newest(t, s)
	vm := lookup(t, a, objects.VM, "DC0_H0_VM1")
	post(t, c, &types.EventEx{EventTypeId: "com.example.disk.slow", Severity: "warning", ObjectType: "VirtualMachine", ObjectId: vm.Value, ObjectName: "DC0_H0_VM1"})
	// (the simulator's alarm manager needs an EventEx to name an object)
	post(t, c, &types.EventEx{EventTypeId: "com.example.nosev", ObjectType: "VirtualMachine", ObjectId: vm.Value})
	post(t, c, &types.AlarmStatusChangedEvent{AlarmEvent: types.AlarmEvent{Alarm: types.AlarmEventArgument{Alarm: types.ManagedObjectReference{Type: "Alarm", Value: "alarm-1"}}}, From: "green", To: "red"})
	post(t, c, &types.AlarmStatusChangedEvent{From: "red", To: "yellow"})
	post(t, c, &types.CustomizationNetworkSetupFailed{CustomizationFailed: types.CustomizationFailed{CustomizationEvent: types.CustomizationEvent{VmEvent: types.VmEvent{Event: types.Event{Vm: &types.VmEventArgument{Vm: vm, EntityEventArgument: types.EntityEventArgument{Name: "DC0_H0_VM1"}}}}}}})
	post(t, c, &types.GeneralUserEvent{})

	got := events(t, s, vpoller.Request{Key: key(k0)})
	type row struct{ typ, sev, entity string }
	var rows []row
	for _, e := range got {
		ent, _ := e.entity.(string)
		rows = append(rows, row{e.typ, e.severity, ent})
	}
	want := []row{
		{"com.example.disk.slow", "warning", "DC0_H0_VM1"},
		{"com.example.nosev", "info", ""}, // no name given
		{"AlarmStatusChangedEvent", "error", ""},
		{"AlarmStatusChangedEvent", "warning", ""},
		{"CustomizationNetworkSetupFailed", "error", "DC0_H0_VM1"}, // the simulator's event category
		{"GeneralUserEvent", "info", ""},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("got  %v\nwant %v", rows, want)
	}
}

// TestEventGetCaps: max-sample defaults to 100 without key, never
// exceeds 1,000, and a client 1,200 events behind gets the newest 1,000,
// the gap visible in the keys.
func TestEventGetCaps(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	// The cap is the stream's buffer size (EventCap in production): a
	// smaller one here, so that overrunning it takes 200 events, not 1,200.
	const size = 150
	a.events.Close()
	a.events = eventstream.New(a.sess, eventstream.Options{Size: size})
	c := admin(t, a)
	k0 := newest(t, s)
	// In two halves with a read between: the simulator's collector loses
	// its read position when more than a page of events arrive unread
	// (vCenter's does not).
	postMany(t, c, 100)
	newest(t, s)
	postMany(t, c, 100)
	last := newest(t, s)
	if last != k0+200 {
		t.Fatalf("newest key %d, want %d (keys are consecutive in the simulator)", last, k0+200)
	}
	all := events(t, s, vpoller.Request{Key: key(k0)})
	if len(all) != size || all[0].key != last-size+1 || all[len(all)-1].key != last {
		t.Fatalf("200 behind: %d events, keys %d..%d; want %d, %d..%d", len(all), all[0].key, all[len(all)-1].key,
			size, last-size+1, last)
	}
	if skipped := all[0].key - k0 - 1; skipped != 50 {
		t.Errorf("gap from the keys: %d, want 50", skipped)
	}
	for _, tc := range []struct {
		req  vpoller.Request
		n    int
		from int64
	}{
		{vpoller.Request{}, 100, last - 99},
		{vpoller.Request{MaxSample: 5000}, size, last - size + 1},
		{vpoller.Request{Key: key(k0), MaxSample: 5000}, size, last - size + 1},
		{vpoller.Request{Key: key(k0), MaxSample: 10}, 10, last - 9},
		{vpoller.Request{Key: key(last - 3)}, 3, last - 2},
	} {
		l := events(t, s, tc.req)
		if len(l) != tc.n || l[0].key != tc.from || l[len(l)-1].key != last {
			t.Errorf("%+v: %d events from %d, want %d from %d", tc.req, len(l), l[0].key, tc.n, tc.from)
		}
	}
}

// TestEventGetName: name keeps the events that name the object, by
// name, id or UUID, from the buffer (no call of its own) or, when the
// buffer no longer reaches back, from a collector filtered on the
// object (three calls).
func TestEventGetName(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	a.events.Close()
	a.events = eventstream.New(a.sess, eventstream.Options{Size: 20}) // a small buffer, to reach the filtered query
	c := admin(t, a)
	k0 := newest(t, s)
	power(t, c, "DC0_H0_VM0", false)
	power(t, c, "DC0_H0_VM1", false)
	power(t, c, "DC0_C0_RP0_VM0", false)
	vm0 := lookup(t, a, objects.VM, "DC0_H0_VM0")
	off := []string{"VmStoppingEvent", "VmPoweredOffEvent"}

	for name, want := range map[string][]string{
		"DC0_H0_VM0": off, vm0.Value: off,
		"DC0_H0":    slices.Concat(off, off), // both VMs of the standalone host
		"DC0":       slices.Concat(off, off, off),
		"LocalDS_0": slices.Concat(off, off, off),
		"DC0_C0":    off,
	} {
		before := s.Stats()
		l := events(t, s, vpoller.Request{Name: name, Key: key(k0)})
		if !slices.Equal(typesOf(l), want) {
			t.Errorf("name %s: %v, want %v", name, typesOf(l), want)
		}
		if d, by := calls(before, s.Stats()); d > 1 { // one ReadNextEvents
			t.Errorf("name %s from the buffer cost %d calls %v", name, d, by)
		}
	}
	// The datastore by its URL, the VM by its UUID.
	ds := exec(t, s, vpoller.Request{Method: "datastore.get", Name: "LocalDS_0", Properties: []string{"info.url"}})
	url := field(ds.Result.([]any)[0], "info.url").(string)
	uuid := field(exec(t, s, vpoller.Request{Method: "vm.get", Name: "DC0_H0_VM0", Properties: []string{"config.instanceUuid"}}).Result.([]any)[0], "config.instanceUuid").(string)
	if l := events(t, s, vpoller.Request{Name: url, Key: key(k0)}); len(l) != 6 {
		t.Errorf("datastore by url: %v", typesOf(l))
	}
	if l := events(t, s, vpoller.Request{Name: uuid, Key: key(k0)}); !slices.Equal(typesOf(l), off) || l[1].entity != "DC0_H0_VM0" {
		t.Errorf("vm by uuid: %+v", l)
	}

	// 30 more events push the VM's out of the 20-event buffer: the
	// filtered collector answers, at three calls.
	postMany(t, c, 30)
	before := s.Stats()
	l := events(t, s, vpoller.Request{Name: "DC0_H0_VM0", Key: key(k0)})
	after := s.Stats()
	if !slices.Equal(typesOf(l), off) {
		t.Errorf("beyond the buffer: %v", typesOf(l))
	}
	for _, m := range []string{"CreateCollectorForEvents", "RetrievePropertiesEx", "DestroyCollector"} {
		if after.Calls[m]-before.Calls[m] != 1 {
			t.Errorf("%s: %d calls, want 1", m, after.Calls[m]-before.Calls[m])
		}
	}
	if l := events(t, s, vpoller.Request{Name: "DC0_H0_VM0", MaxSample: 1}); len(l) != 1 || l[0].typ != "VmPoweredOffEvent" {
		t.Errorf("newest of the VM without key: %+v", l)
	}

	r := exec(t, s, vpoller.Request{Method: "event.get", Name: "nosuch"})
	if r.Success != 1 || r.Msg != "Cannot find object nosuch" {
		t.Errorf("unknown name: %s", r.Encode(vpoller.Python))
	}
	r = exec(t, s, vpoller.Request{Method: "event.get", Name: "VM Network"}) // a network: not an event entity here
	if r.Success != 1 || r.Msg != "Cannot find object VM Network" {
		t.Errorf("a network: %s", r.Encode(vpoller.Python))
	}
}

// TestEventGetSessionLoss: another user terminates the worker's session;
// the collector of the old session is gone, a new one is made after the
// re-login, and no event is lost: neither those vCenter recorded before
// the loss and nobody had read, nor those of the outage. With the mirror
// on, its re-login tells the stream (the session's generation); with it
// off, the stream meets the old collector's ManagedObjectNotFound itself.
func TestEventGetSessionLoss(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
	}{{"mirror", Options{}}, {"direct", direct}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, tc.opts)
			a, _ := s.Agent("sim")
			if tc.name == "mirror" {
				agent(t, s) // the mirror runs, and meets the loss too
			}
			k0 := newest(t, s)
			c := admin(t, a)
			ctx := context.Background()
			power(t, c, "DC0_H0_VM0", false) // unread when the session goes
			vc, _ := a.Client(ctx)
			ours, err := govsession.NewManager(vc).UserSession(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SessionManager.TerminateSession(ctx, []string{ours.Key}); err != nil {
				t.Fatal(err)
			}
			power(t, c, "DC0_H0_VM0", true) // during the outage

			got := typesOf(events(t, s, vpoller.Request{Key: key(k0)}))
			if want := []string{"UserLoginSessionEvent", "VmStoppingEvent", "VmPoweredOffEvent", "VmStartingEvent", "VmPoweredOnEvent"}; !subsequence(got, want) {
				t.Fatalf("after the session loss: %v, want %v in order", got, want)
			}
			st := s.Stats()
			if st.Logins != 2 || st.Calls["CreateCollectorForEvents"] != 2 {
				t.Fatalf("logins %d, collectors created %d; want 2 and 2", st.Logins, st.Calls["CreateCollectorForEvents"])
			}
			// And the new collector streams on.
			last := newest(t, s)
			power(t, c, "DC0_H0_VM1", false)
			if got := typesOf(events(t, s, vpoller.Request{Key: key(last)})); !slices.Equal(got, []string{"VmStoppingEvent", "VmPoweredOffEvent"}) {
				t.Fatalf("after the new collector: %v", got)
			}
		})
	}
}

// TestEventGetConcurrent: identical event.get requests in flight do not
// share an execution (a reply must hold what vCenter had when ITS
// request came), but they share the collector's reads.
func TestEventGetConcurrent(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	k0 := newest(t, s)
	a, _ := s.Agent("sim")
	power(t, admin(t, a), "DC0_H0_VM0", false)
	before := s.Stats()
	const n = 20
	var wg sync.WaitGroup
	replies := make([]*vpoller.Response, n)
	for i := range n {
		wg.Go(func() { replies[i] = exec(t, s, vpoller.Request{Method: "event.get", Key: key(k0)}) })
	}
	wg.Wait()
	after := s.Stats()
	for _, r := range replies {
		if g := typesOf(decodeEvents(t, r)); !slices.Equal(g, []string{"UserLoginSessionEvent", "VmStoppingEvent", "VmPoweredOffEvent"}) {
			t.Fatalf("reply %v", g)
		}
	}
	if c := after.Coalesced - before.Coalesced; c != 0 {
		t.Errorf("%d identical event.get shared an execution", c)
	}
	if r := after.Calls["ReadNextEvents"] - before.Calls["ReadNextEvents"]; r > n/2 {
		t.Errorf("%d concurrent requests made %d ReadNextEvents calls", n, r)
	}
}
