package vsphere

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects/tagging"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// adminTags is a tag manager on the agent's simulated vCenter, with a
// vAPI session of its own: the tests tag objects through it, as another
// vSphere user would.
func adminTags(t testing.TB, a *Agent) *tags.Manager {
	t.Helper()
	ctx := context.Background()
	rc := rest.NewClient(admin(t, a).Client)
	if err := rc.Login(ctx, a.Simulator().URL().User); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Logout(ctx) })
	return tags.NewManager(rc)
}

// addTag creates tag (and its category, if new) and attaches it to refs;
// it returns the tag's id.
func addTag(t testing.TB, m *tags.Manager, category, tag, description string, refs ...types.ManagedObjectReference) string {
	t.Helper()
	ctx := context.Background()
	catID := ""
	if cat, err := m.GetCategory(ctx, category); err == nil {
		catID = cat.ID
	} else {
		id, err := m.CreateCategory(ctx, &tags.Category{Name: category, Description: category + " category", Cardinality: "MULTIPLE"})
		if err != nil {
			t.Fatal(err)
		}
		catID = id
	}
	id, err := m.CreateTag(ctx, &tags.Tag{Name: tag, Description: description, CategoryID: catID})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		if err := m.AttachTag(ctx, id, ref); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// listAttached is the REST call of the attachments snapshot (with
// listTags, the tag ids it asks about).
const (
	listAttached = "POST cis/tagging/tag-association?list-attached-objects-on-tags"
	listTags     = "GET cis/tagging/tag"
)

// attachmentsClock puts the agent's tagging snapshots on a clock the
// test steps (before any request reads them): expire ages the held
// attachments snapshot past its TTL, so the next request reloads it,
// without waiting the TTL out. The catalogue's TTL is an hour here: it
// reloads only for an id it lacks, as it does within its TTL.
func attachmentsClock(a *Agent) (expire func()) {
	var skew atomic.Int64
	a.tags = tagging.New(a.sess, tagging.Options{CatalogueTTL: time.Hour,
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	return func() { skew.Add(int64(tagging.AttachedTTL)) }
}

// soapCalls are the SOAP calls between two snapshots of the counters,
// besides the mirror's long polls (which run on their own).
func soapCalls(before, after session.Stats) map[string]uint64 {
	out := map[string]uint64{}
	for m, n := range after.Calls {
		if m != "WaitForUpdatesEx" && n != before.Calls[m] {
			out[m] = n - before.Calls[m]
		}
	}
	return out
}

// encoded is a reply's result in the original's Python encoding.
func encoded(t testing.TB, r *vpoller.Response) string {
	t.Helper()
	if r.Success != 0 {
		t.Fatalf("reply %s", r.Encode(vpoller.Python))
	}
	b, err := vpoller.Marshal(r.Result, vpoller.Python)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTags: tags attached by another user come back per object, sorted
// by category then tag, with their descriptions; tag.discover counts the
// objects of every tag; warm lookups cost no call; a tag created and
// attached after the snapshots were taken shows at the attachments
// reload; an untagged object has none, an unknown one is an error; a
// dropped vAPI session is logged in again.
func TestTags(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	expire := attachmentsClock(a)
	ds := exec(t, s, vpoller.Request{Method: "datastore.discover", Properties: []string{"info.url"}})
	url := field(ds.Result.([]any)[0], "info.url").(string)
	vm, host := lookup(t, a, objects.VM, "DC0_H0_VM0"), lookup(t, a, objects.Host, "DC0_H0")
	dsRef, cluster := lookup(t, a, objects.Datastore, url), lookup(t, a, objects.Cluster, "DC0_C0")

	m := adminTags(t, a)
	// Created in an order the replies must not follow.
	addTag(t, m, "Owner", "alice", "Alice's team", vm, cluster)
	addTag(t, m, "Env", "test", "Test", host)
	addTag(t, m, "Env", "prod", "Production", vm, dsRef, host)
	addTag(t, m, "Env", "dev", "", host)
	addTag(t, m, "Backup", "none", "Not backed up")

	for _, tc := range []struct {
		method, name, want string
	}{
		{"vm.tag.get", "DC0_H0_VM0", `[{"category": "Env", "tag": "prod", "description": "Production"}, {"category": "Owner", "tag": "alice", "description": "Alice's team"}]`},
		{"vm.tag.get", vm.Value, `[{"category": "Env", "tag": "prod", "description": "Production"}, {"category": "Owner", "tag": "alice", "description": "Alice's team"}]`},
		{"host.tag.get", "DC0_H0", `[{"category": "Env", "tag": "dev", "description": ""}, {"category": "Env", "tag": "prod", "description": "Production"}, {"category": "Env", "tag": "test", "description": "Test"}]`},
		{"datastore.tag.get", url, `[{"category": "Env", "tag": "prod", "description": "Production"}]`},
		{"cluster.tag.get", "DC0_C0", `[{"category": "Owner", "tag": "alice", "description": "Alice's team"}]`},
		{"vm.tag.get", "DC0_H0_VM1", `[]`},
		{"host.tag.get", "DC0_C0_H1", `[]`},
	} {
		r := exec(t, s, vpoller.Request{Method: tc.method, Name: tc.name})
		if r.Msg != msgTags {
			t.Errorf("%s %s: msg %q", tc.method, tc.name, r.Msg)
		}
		if got := encoded(t, r); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.method, tc.name, got, tc.want)
		}
	}

	r := exec(t, s, vpoller.Request{Method: "tag.discover"})
	want := `[{"category": "Backup", "tag": "none", "description": "Not backed up", "objects": 0}, ` +
		`{"category": "Env", "tag": "dev", "description": "", "objects": 1}, ` +
		`{"category": "Env", "tag": "prod", "description": "Production", "objects": 3}, ` +
		`{"category": "Env", "tag": "test", "description": "Test", "objects": 1}, ` +
		`{"category": "Owner", "tag": "alice", "description": "Alice's team", "objects": 2}]`
	if got := encoded(t, r); got != want || r.Msg != msgTagsDiscovered {
		t.Errorf("tag.discover %q:\n got %s\nwant %s", r.Msg, got, want)
	}

	for _, tc := range []struct{ method, name, msg string }{
		{"vm.tag.get", "nosuch", "Cannot find object nosuch"},
		{"host.tag.get", "DC0_H0_VM0", "Cannot find object DC0_H0_VM0"}, // a VM is not a host
		{"cluster.tag.get", "", vpoller.MsgInvalidTask},
	} {
		r := exec(t, s, vpoller.Request{Method: tc.method, Name: tc.name})
		if r.Success != 1 || r.Msg != tc.msg {
			t.Errorf("%s %q: %s, want failure %q", tc.method, tc.name, r.Encode(vpoller.Python), tc.msg)
		}
	}

	// The catalogue and the attachments are cached: warm lookups cost
	// no call.
	before := a.sess.Stats()
	exec(t, s, vpoller.Request{Method: "vm.tag.get", Name: "DC0_H0_VM0"})
	exec(t, s, vpoller.Request{Method: "tag.discover"})
	after := a.sess.Stats()
	if n := after.RESTCalls - before.RESTCalls; n != 0 {
		t.Errorf("warm vm.tag.get and tag.discover: %d REST calls (%v), want 0", n, after.RESTCallsByName)
	}
	if soap := soapCalls(before, after); len(soap) > 0 {
		t.Errorf("warm vm.tag.get made SOAP calls %v", soap)
	}

	// A tag created after the catalogue was loaded resolves at the
	// attachments reload (the catalogue reloads for its unknown id).
	addTag(t, m, "Owner", "bob", "Bob's team", vm)
	expire()
	r = exec(t, s, vpoller.Request{Method: "vm.tag.get", Name: "DC0_H0_VM0"})
	if got := encoded(t, r); !strings.HasSuffix(got, `{"category": "Owner", "tag": "alice", "description": "Alice's team"}, {"category": "Owner", "tag": "bob", "description": "Bob's team"}]`) {
		t.Errorf("after a new tag: %s", got)
	}
	expire() // the next request must call vCenter

	// vCenter forgets our vAPI session: one re-login, the request succeeds.
	logins := a.sess.Stats().RESTLogins
	ours := m.SessionID()
	m.SessionID(a.sess.RESTSessionID())
	if err := m.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.SessionID(ours)
	r = exec(t, s, vpoller.Request{Method: "cluster.tag.get", Name: "DC0_C0"})
	if got := encoded(t, r); got != `[{"category": "Owner", "tag": "alice", "description": "Alice's team"}]` {
		t.Errorf("after the session was dropped: %s", got)
	}
	if n := a.sess.Stats().RESTLogins; n != logins+1 {
		t.Errorf("vAPI logins %d -> %d, want one re-login", logins, n)
	}
}

// TestTagAttachmentsFixedCost: lookups of different objects within the
// bound, concurrent or not, all answer from one attachments snapshot:
// exactly one list-attached-objects-on-tags call (and one tag list) for
// all of them, where the per-object design cost about one call per
// object; each object gets its own tags. Past the bound the next lookup
// reloads it (one more of each) and shows a tag attached since.
func TestTagAttachmentsFixedCost(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	expire := attachmentsClock(a)
	m := adminTags(t, a)
	type obj struct {
		method, name string
		ref          types.ManagedObjectReference
	}
	var list []obj
	for _, name := range []string{"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"} {
		ref := lookup(t, a, objects.VM, name)
		list = append(list, obj{"vm.tag.get", name, ref})
		addTag(t, m, "VM", name, "", ref)
	}
	for _, name := range []string{"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"} {
		list = append(list, obj{"host.tag.get", name, lookup(t, a, objects.Host, name)}) // untagged
	}
	want := func(o obj) string {
		if o.method == "vm.tag.get" {
			return `[{"category": "VM", "tag": "` + o.name + `", "description": ""}]`
		}
		return "[]"
	}
	check := func(what string, n int) {
		t.Helper()
		var wg sync.WaitGroup
		got := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := list[i%len(list)]
				r := exec(t, s, vpoller.Request{Method: o.method, Name: o.name})
				b, _ := vpoller.Marshal(r.Result, vpoller.Python)
				got[i] = r.Msg + " " + string(b)
			}()
		}
		wg.Wait()
		for i := range n {
			if o := list[i%len(list)]; got[i] != msgTags+" "+want(o) {
				t.Errorf("%s: %s %s: %s, want %s", what, o.method, o.name, got[i], want(o))
			}
		}
	}
	calls := func(before, after session.Stats) (attached, ids uint64) {
		return after.RESTCallsByName[listAttached] - before.RESTCallsByName[listAttached],
			after.RESTCallsByName[listTags] - before.RESTCallsByName[listTags]
	}

	before := a.sess.Stats()
	check("cold", 48)
	after := a.sess.Stats()
	if n, ids := calls(before, after); n != 1 {
		t.Errorf("48 cold lookups: %d attachments calls (%d tag lists, %v), want 1", n, ids, after.RESTCallsByName)
	}
	before = after
	check("warm", 48)
	if after = a.sess.Stats(); after.RESTCalls != before.RESTCalls {
		t.Errorf("48 warm lookups: %d REST calls (%v), want 0", after.RESTCalls-before.RESTCalls, after.RESTCallsByName)
	}

	addTag(t, m, "VM", "late", "", list[4].ref)
	expire()
	before = a.sess.Stats()
	r := exec(t, s, vpoller.Request{Method: "host.tag.get", Name: list[4].name})
	after = a.sess.Stats()
	if got := encoded(t, r); got != `[{"category": "VM", "tag": "late", "description": ""}]` {
		t.Errorf("after the bound: %s", got)
	}
	if n, ids := calls(before, after); n != 1 || ids < 1 {
		t.Errorf("reload past the bound: %d attachments calls, %d tag lists, want 1 and at least 1", n, ids)
	}
}

// TestTagsAndAttributesOnESX: an ESXi host has neither a tagging service
// nor custom fields: clear errors.
func TestTagsAndAttributesOnESX(t *testing.T) {
	t.Parallel()
	s, err := NewService([]AgentConfig{{Name: "esx", Simulator: true, SimulatorModel: "esx"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	for _, tc := range []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Method: "vm.tag.get", Name: "ha-host_VM0"}, "Cannot retrieve tags: vSphere tags are a vCenter service: esx is an ESXi host"},
		{vpoller.Request{Method: "tag.discover"}, "Cannot retrieve tags: vSphere tags are a vCenter service: esx is an ESXi host"},
		{vpoller.Request{Method: "vm.attribute.get", Name: "ha-host_VM0"}, "No custom fields manager on this vSphere agent"},
	} {
		tc.req.Hostname = "esx"
		r := s.Execute(context.Background(), &tc.req)
		if r.Success != 1 || r.Msg != tc.msg {
			t.Errorf("%s: %s, want %q", tc.req.Method, r.Encode(vpoller.Python), tc.msg)
		}
	}
}

// restDelta is the REST calls between two snapshots of the counters, by
// name.
func restDelta(before, after session.Stats) map[string]uint64 {
	out := map[string]uint64{}
	for k, n := range after.RESTCallsByName {
		if d := n - before.RESTCallsByName[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// TestDiscoverTagsPseudoProperty: a discovery listing "tags" gives each
// object its tags as "<category>:<tag>" sorted and joined by ", ", ""
// when it has none, in the requested position. A cold discovery costs
// the attachments snapshot and the catalogue, as a cold vm.tag.get does,
// whatever the number of objects; a warm one no REST or SOAP call; one
// past the snapshot's bound its reload only (the tag ids, then the
// attachments).
func TestDiscoverTagsPseudoProperty(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	expire := attachmentsClock(a)
	m := adminTags(t, a)
	vm, host := lookup(t, a, objects.VM, "DC0_H0_VM0"), lookup(t, a, objects.Host, "DC0_H0")
	// Created in an order the string must not follow.
	addTag(t, m, "Owner", "alice", "Alice's team", vm)
	addTag(t, m, "Env", "prod", "Production", vm, host)

	tagsOf := func(method string) map[string]string {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: method, Properties: []string{"moref", "tags"}})
		if r.Success != 0 || r.Msg != msgDiscovered {
			t.Fatalf("%s: %s", method, r.Encode(vpoller.Python))
		}
		out := map[string]string{}
		for _, x := range r.Result.([]any) {
			if k := keysOf(x); k != "name,moref,tags" {
				t.Errorf("%s: keys %s", method, k)
			}
			out[field(x, "name").(string)] = field(x, "tags").(string)
		}
		return out
	}
	wantVMs := map[string]string{"DC0_H0_VM0": "Env:prod, Owner:alice", "DC0_H0_VM1": "", "DC0_C0_RP0_VM0": "", "DC0_C0_RP0_VM1": ""}
	check := func(what string) {
		t.Helper()
		if got := tagsOf("vm.discover"); !maps.Equal(got, wantVMs) {
			t.Errorf("%s vm.discover tags: %v, want %v", what, got, wantVMs)
		}
	}

	before := a.sess.Stats()
	check("cold")
	cold := restDelta(before, a.sess.Stats())
	// The vAPI login, the snapshot (tag ids, attachments) and the
	// catalogue (categories, tags, then each of the 2 categories and 2
	// tags): 9 calls for 4 VMs.
	if cold["POST cis/session"] != 1 || cold[listAttached] != 1 || cold[listTags] != 2 || sum(cold) != 9 {
		t.Errorf("cold discovery: REST calls %v, want a login, 1 attachments, 2 tag lists, 9 in all", cold)
	}

	before = a.sess.Stats()
	check("warm")
	if got := tagsOf("host.discover")["DC0_H0"]; got != "Env:prod" {
		t.Errorf("host DC0_H0 tags %q", got)
	}
	after := a.sess.Stats()
	if n := after.RESTCalls - before.RESTCalls; n != 0 {
		t.Errorf("warm discoveries: %d REST calls %v, want 0", n, restDelta(before, after))
	}
	if soap := soapCalls(before, after); len(soap) > 0 {
		t.Errorf("warm discoveries made SOAP calls %v", soap)
	}

	addTag(t, m, "Env", "test", "Test", lookup(t, a, objects.VM, "DC0_C0_RP0_VM1"))
	expire()
	wantVMs["DC0_C0_RP0_VM1"] = "Env:test" // a new tag: the catalogue reloads for its id
	before = a.sess.Stats()
	check("after the bound")
	reload := restDelta(before, a.sess.Stats())
	if reload[listAttached] != 1 || reload[listTags] != 2 || reload["GET cis/tagging/category"] != 1 {
		t.Errorf("reload past the bound with a new tag: REST calls %v, want one snapshot and one catalogue reload", reload)
	}
	expire()
	before = a.sess.Stats()
	check("after the bound, no new tag")
	if got := restDelta(before, a.sess.Stats()); !maps.Equal(got, map[string]uint64{listAttached: 1, listTags: 1}) {
		t.Errorf("reload past the bound: REST calls %v, want the snapshot's 2", got)
	}
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// lockedBuffer is a log sink safe for the agent's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDiscoverTagsOnESX: an ESXi host has no tagging service, yet a
// discovery listing "tags" answers, every object with tags "", the other
// pseudo-properties as usual; the agent warns once, saying why, however
// many discoveries ask.
func TestDiscoverTagsOnESX(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	s, err := NewService([]AgentConfig{{Name: "esx", Simulator: true, SimulatorModel: "esx"}},
		Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	for range 3 {
		for _, method := range []string{"vm.discover", "host.discover"} {
			r := s.Execute(context.Background(), &vpoller.Request{Hostname: "esx", Method: method, Properties: []string{"tags", "moref"}})
			if r.Success != 0 || r.Msg != msgDiscovered {
				t.Fatalf("%s: %s", method, r.Encode(vpoller.Python))
			}
			list := r.Result.([]any)
			if len(list) == 0 {
				t.Fatalf("%s: nothing discovered", method)
			}
			for _, x := range list {
				if keysOf(x) != "name,tags,moref" || field(x, "tags") != "" || field(x, "moref") == "" {
					t.Errorf("%s: %s", method, pyJSON(t, x))
				}
			}
		}
	}
	const why = `msg="cannot read vSphere tags: discoveries answer tags \"\" for every object" agent=esx error="vSphere tags are a vCenter service: esx is an ESXi host"`
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), why) {
		t.Errorf("%d warnings, want one saying %s; log:\n%s", n, why, logs.String())
	}
}
