package vsphere

import (
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// makePod creates datastore cluster name on DC0 as a vSphere user would:
// with second, a second local datastore "LocalDS_1" on DC0_H0; then a
// StoragePod in the datacenter's datastore folder, and every datastore
// moved into it. It returns the pod's reference.
func makePod(t *testing.T, a *Agent, name string, second bool) types.ManagedObjectReference {
	t.Helper()
	ctx := t.Context()
	vc, err := a.Client(ctx) // the agent's session: no second session for session.get to list
	if err != nil {
		t.Fatal(err)
	}
	finder := find.NewFinder(vc, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	host, err := finder.HostSystem(ctx, "DC0_H0")
	if err != nil {
		t.Fatal(err)
	}
	dss, err := host.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second {
		if _, err := dss.CreateLocalDatastore(ctx, "LocalDS_1", t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := folders.DatastoreFolder.CreateStoragePod(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	list, err := finder.DatastoreList(ctx, "*")
	if err != nil {
		t.Fatal(err)
	}
	var refs []types.ManagedObjectReference
	for _, ds := range list {
		refs = append(refs, ds.Reference())
	}
	if want := map[bool]int{false: 1, true: 2}[second]; len(refs) != want {
		t.Fatalf("%d datastores, want %d", len(refs), want)
	}
	task, err := pod.MoveInto(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return pod.Reference()
}

// podSummary sets, server-side, the pod's summary to the sum of its
// members' capacity and free space, as vCenter keeps it (the simulator
// creates the summary zero and never updates it), tells the simulator's
// collectors, and returns the sums.
func podSummary(t *testing.T, a *Agent, pod types.ManagedObjectReference) (capacity, free int64) {
	t.Helper()
	m := a.Simulator().Model()
	p := m.Map().Get(pod).(*simulator.StoragePod)
	for _, r := range p.ChildEntity {
		ds := m.Map().Get(r).(*simulator.Datastore)
		capacity += ds.Summary.Capacity
		free += ds.Summary.FreeSpace
	}
	if capacity == 0 {
		t.Fatal("member datastores have no capacity")
	}
	notify(t, a, pod, "summary.capacity", capacity)
	notify(t, a, pod, "summary.freeSpace", free)
	return capacity, free
}

// TestDatastoreCluster creates a datastore cluster with govmomi's API and
// checks that the mirror follows it (10 s allowed under load; the 2 s freshness bound is mirror_test.go's), that it is found by name
// and managed object id, that its member datastores are listed with their
// URLs and requested properties, and that the datastores stay
// discoverable inside it.
func TestDatastoreCluster(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	if r := exec(t, s, vpoller.Request{Method: "datastore.cluster.discover"}); r.Success != 0 || len(r.Result.([]any)) != 0 {
		t.Fatalf("before: %s", r.Encode(vpoller.Python))
	}
	pod := makePod(t, a, "DC0_POD0", true)
	took := eventually(t, 10*time.Second, "datastore cluster discovered", func() bool {
		r := exec(t, s, vpoller.Request{Method: "datastore.cluster.discover"})
		return r.Success == 0 && reflect.DeepEqual(names(t, r), []string{"DC0_POD0"})
	})
	t.Logf("discovered after %v", took)
	if got := lookup(t, a, objects.DatastoreCluster, "DC0_POD0"); got != pod {
		t.Errorf("lookup DC0_POD0 = %s, want %s", got, pod)
	}
	// By managed object id too, like every kind.
	if r := exec(t, s, vpoller.Request{Method: "datastore.cluster.get", Name: pod.Value, Properties: []string{"overallStatus"}}); r.Success != 0 ||
		keysOf(r.Result.([]any)[0]) != "name,overallStatus" {
		t.Errorf("get by id: %s", r.Encode(vpoller.Python))
	}

	// Members: name and info.url, as host.datastore.get names them.
	r := exec(t, s, vpoller.Request{Method: "datastore.cluster.datastore.get", Name: "DC0_POD0", Properties: []string{"summary.capacity"}})
	if r.Success != 0 || r.Msg != msgDiscovered {
		t.Fatalf("members: %s", r.Encode(vpoller.Python))
	}
	m := a.Simulator().Model()
	var got, wantMembers []string
	for _, x := range r.Result.([]any) {
		got = append(got, field(x, "name").(string)+" "+field(x, "info.url").(string)+" "+itoa(field(x, "summary.capacity").(int64)))
	}
	for _, ref := range m.Map().Get(pod).(*simulator.StoragePod).ChildEntity {
		ds := m.Map().Get(ref).(*simulator.Datastore)
		wantMembers = append(wantMembers, ds.Name+" "+ds.Info.GetDatastoreInfo().Url+" "+itoa(ds.Summary.Capacity))
	}
	sort.Strings(got)
	sort.Strings(wantMembers)
	if !reflect.DeepEqual(got, wantMembers) || len(got) != 2 {
		t.Errorf("members %q, want %q", got, wantMembers)
	}
	// The datastores are still in the inventory inside the pod.
	if r := exec(t, s, vpoller.Request{Method: "datastore.discover"}); !reflect.DeepEqual(sorted(names(t, r)), []string{"LocalDS_0", "LocalDS_1"}) {
		t.Errorf("datastore.discover: %s", r.Encode(vpoller.Python))
	}
}

// TestDatastoreClusterGet checks that get returns a pod's capacity and
// free space (the sum of its members, set server-side as vCenter keeps
// it) and its Storage DRS switch (the simulator enables it). It reads
// from vCenter (mirror off): the simulator delays or drops a property
// change reported just after its container view changed (its filter
// re-syncs its traversal), which vCenter does not do; the mirror's
// following of property changes is tested in mirror_test.go.
func TestDatastoreClusterGet(t *testing.T) {
	t.Parallel()
	s := newSim(t, direct)
	a := agent(t, s)
	pod := makePod(t, a, "DC0_POD0", true)
	eventually(t, 10*time.Second, "datastore cluster in the index", func() bool {
		_, err := a.store.Lookup(t.Context(), objects.DatastoreCluster, "DC0_POD0")
		return err == nil
	})
	capacity, free := podSummary(t, a, pod)
	const sdrs = "podStorageDrsEntry.storageDrsConfig.podConfig.enabled"
	want := `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_POD0", ` +
		`"summary.capacity": ` + itoa(capacity) + `, "summary.freeSpace": ` + itoa(free) + `, "` + sdrs + `": true}]}`
	r := exec(t, s, vpoller.Request{Method: "datastore.cluster.get", Name: "DC0_POD0",
		Properties: []string{"summary.capacity", "summary.freeSpace", sdrs}})
	if got := string(r.Encode(vpoller.Python)); got != want {
		t.Fatalf("get:\n%s\nwant\n%s", got, want)
	}
	// Storage DRS switched off server-side (as a user's
	// ConfigureStorageDrsForPod would): the value follows.
	notify(t, a, pod, sdrs, false)
	r = exec(t, s, vpoller.Request{Method: "datastore.cluster.get", Name: "DC0_POD0", Properties: []string{sdrs}})
	if v := field(r.Result.([]any)[0], sdrs); v != false {
		t.Errorf("%s = %#v after switching it off: %s", sdrs, v, r.Encode(vpoller.Python))
	}
}

// TestDatastoreClusterErrors: unknown pods, and a datastore named as a
// pod, are lookup errors; get requires properties.
func TestDatastoreClusterErrors(t *testing.T) {
	t.Parallel()
	s := shared(t)
	agent(t, s)
	tests := []struct {
		req  vpoller.Request
		want string
	}{
		{vpoller.Request{Method: "datastore.cluster.get", Name: "nope", Properties: []string{"summary.capacity"}}, "Cannot find object nope"},
		{vpoller.Request{Method: "datastore.cluster.datastore.get", Name: "LocalDS_0"}, "Cannot find object LocalDS_0"},
		{vpoller.Request{Method: "datastore.cluster.get", Name: "x"}, vpoller.MsgInvalidTask},
		{vpoller.Request{Method: "datastore.cluster.datastore.get"}, vpoller.MsgInvalidTask},
	}
	for _, tc := range tests {
		r := exec(t, s, tc.req)
		if r.Success != 1 || r.Msg != tc.want {
			t.Errorf("%s %q: %s, want %q", tc.req.Method, tc.req.Name, r.Encode(vpoller.Python), tc.want)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
