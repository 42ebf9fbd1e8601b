package vsphere

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// simPortgroups returns the simulator's portgroups of DVS0: key -> name.
func simPortgroups(t *testing.T, a *Agent) map[string]string {
	t.Helper()
	m := a.Simulator().Model()
	out := map[string]string{}
	for _, e := range m.Map().All("DistributedVirtualPortgroup") {
		pg := e.(*simulator.DistributedVirtualPortgroup)
		out[pg.Key] = pg.Name
	}
	if len(out) != 2 {
		t.Fatalf("simulator portgroups %v, want the uplinks and DC0_DVPG0", out)
	}
	return out
}

// TestDVSwitch: the simulator's switch DVS0 is discovered, found by name
// and id, get reads any property (checked against a direct govmomi read),
// and dvswitch.port.get lists the ports FetchDVPorts returns, all of them
// or one portgroup's (named by name or key). The simulator's FetchDVPorts
// fills key, portgroup and the portgroup's default setting only (no
// connectee, no state): linkUp, connectee and connecteeType are null and
// there are no counters (TestDVSwitchPortState covers those).
func TestDVSwitch(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	r := exec(t, s, vpoller.Request{Method: "dvswitch.discover"})
	if r.Success != 0 || r.Msg != msgDiscovered || !reflect.DeepEqual(names(t, r), []string{"DVS0"}) {
		t.Fatalf("discover: %s", r.Encode(vpoller.Python))
	}
	ref := lookup(t, a, objects.DVSwitch, "DVS0")
	if !objects.DVSwitch.Has(ref.Type) {
		t.Errorf("DVS0 is a %s", ref.Type)
	}

	// get, against govmomi's own read.
	var dvs mo.DistributedVirtualSwitch
	c := admin(t, a)
	if err := property.DefaultCollector(c.Client).RetrieveOne(t.Context(), ref, []string{"uuid", "summary.numPorts", "portgroup"}, &dvs); err != nil {
		t.Fatal(err)
	}
	r = exec(t, s, vpoller.Request{Method: "dvswitch.get", Name: ref.Value, Properties: []string{"uuid", "summary.numPorts", "portgroup"}})
	want := `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DVS0", "uuid": "` + dvs.Uuid +
		`", "summary.numPorts": ` + strconv.Itoa(int(dvs.Summary.NumPorts)) + `, "portgroup": ["` + dvs.Portgroup[0].Value + `", "` + dvs.Portgroup[1].Value + `"]}]}`
	if got := string(r.Encode(vpoller.Python)); got != want || dvs.Uuid == "" {
		t.Errorf("get:\n%s\nwant\n%s", got, want)
	}

	// Ports: one per portgroup in the vpx model, in FetchDVPorts' order.
	pgs := simPortgroups(t, a)
	port := func(key, pg string) string {
		return `{"key": "` + key + `", "portgroup": "` + pg + `", "connectee": null, "connecteeType": null, "linkUp": null, "blocked": null}`
	}
	var all []string
	m := a.Simulator().Model()
	for _, p := range dvs.Portgroup {
		all = append(all, port("0", m.Map().Get(p).(*simulator.DistributedVirtualPortgroup).Name))
	}
	var dvpgKey string
	for k, n := range pgs {
		if n == "DC0_DVPG0" {
			dvpgKey = k
		}
	}
	ok := func(ports ...string) string {
		return `{"success": 0, "msg": "` + msgPorts + `", "result": [` + strings.Join(ports, ", ") + `]}`
	}
	tests := []struct {
		name string
		req  vpoller.Request
		want string
	}{
		{"all", vpoller.Request{Method: "dvswitch.port.get", Name: "DVS0"}, ok(all...)},
		{"portgroup by name", vpoller.Request{Method: "dvswitch.port.get", Name: "DVS0", Key: "DC0_DVPG0"}, ok(port("0", "DC0_DVPG0"))},
		{"portgroup by key", vpoller.Request{Method: "dvswitch.port.get", Name: "DVS0", Key: dvpgKey}, ok(port("0", "DC0_DVPG0"))},
		{"unknown portgroup", vpoller.Request{Method: "dvswitch.port.get", Name: "DVS0", Key: "nope"},
			`{"success": 1, "msg": "Cannot find portgroup nope on distributed switch DVS0"}`},
		{"unknown switch", vpoller.Request{Method: "dvswitch.port.get", Name: "nope"}, `{"success": 1, "msg": "Cannot find object nope"}`},
		{"portgroup is not a switch", vpoller.Request{Method: "dvswitch.get", Name: "DC0_DVPG0", Properties: []string{"uuid"}},
			`{"success": 1, "msg": "Cannot find object DC0_DVPG0"}`},
		{"no name", vpoller.Request{Method: "dvswitch.port.get"}, `{"success": 1, "msg": "Invalid task request"}`},
		{"get without properties", vpoller.Request{Method: "dvswitch.get", Name: "DVS0"}, `{"success": 1, "msg": "Invalid task request"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(exec(t, s, tc.req).Encode(vpoller.Python)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// setPorts sets, server-side, what the simulator's FetchDVPorts of DVS0
// returns (its FetchDVPortsResponse, which it then returns as is, without
// applying the criteria): the simulator connects no VM to a port and keeps
// no port state.
func setPorts(t *testing.T, a *Agent, ports []types.DistributedVirtualPort) {
	t.Helper()
	m := a.Simulator().Model()
	dvs := m.Map().Get(lookup(t, a, objects.DVSwitch, "DVS0")).(*simulator.DistributedVirtualSwitch)
	m.Map().WithLock(m.Service.Context, dvs, func() { dvs.FetchDVPortsResponse.Returnval = ports })
}

// TestDVSwitchPortState: a port connected to a VM, running and with
// counters, and an unconnected blocked one, as vCenter returns them, give
// the VM's name, the connectee type, link state and the summed byte
// counters; a switch of more than maxDVPorts ports is an error.
func TestDVSwitchPortState(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	vm := lookup(t, a, objects.VM, "DC0_H0_VM0")
	var dvpgKey string
	for k, n := range simPortgroups(t, a) {
		if n == "DC0_DVPG0" {
			dvpgKey = k
		}
	}
	setPorts(t, a, []types.DistributedVirtualPort{
		{Key: "7", PortgroupKey: dvpgKey,
			Connectee: &types.DistributedVirtualSwitchPortConnectee{ConnectedEntity: &vm, NicKey: "4000", Type: "vmVnic"},
			State: &types.DVPortState{RuntimeInfo: &types.DVPortStatus{LinkUp: true, Blocked: false},
				Stats: types.DistributedVirtualSwitchPortStatistics{PacketsInUnicast: 11, PacketsOutUnicast: 12,
					PacketsInMulticast: 13, PacketsOutMulticast: 14, PacketsInBroadcast: 15, PacketsOutBroadcast: 16,
					PacketsInDropped: 17, PacketsOutDropped: 18, BytesInUnicast: 1000, BytesInMulticast: 200, BytesInBroadcast: 30,
					BytesOutUnicast: 4000, BytesOutMulticast: 500, BytesOutBroadcast: 60}}},
		{Key: "8", PortgroupKey: dvpgKey,
			Config: types.DVPortConfigInfo{Setting: &types.DVPortSetting{Blocked: &types.BoolPolicy{Value: types.NewBool(true)}}}},
	})
	want := `{"success": 0, "msg": "` + msgPorts + `", "result": [` +
		`{"key": "7", "portgroup": "DC0_DVPG0", "connectee": "DC0_H0_VM0", "connecteeType": "vmVnic", "linkUp": true, "blocked": false, ` +
		`"packetsInUnicast": 11, "packetsOutUnicast": 12, "packetsInMulticast": 13, "packetsOutMulticast": 14, "packetsInBroadcast": 15, ` +
		`"packetsOutBroadcast": 16, "packetsInDropped": 17, "packetsOutDropped": 18, "bytesIn": 1230, "bytesOut": 4560}, ` +
		`{"key": "8", "portgroup": "DC0_DVPG0", "connectee": null, "connecteeType": null, "linkUp": null, "blocked": true}]}`
	if got := string(exec(t, s, vpoller.Request{Method: "dvswitch.port.get", Name: "DVS0"}).Encode(vpoller.Python)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// More ports than a reply carries.
	many := make([]types.DistributedVirtualPort, maxDVPorts+1)
	for i := range many {
		many[i] = types.DistributedVirtualPort{Key: strconv.Itoa(i), PortgroupKey: dvpgKey}
	}
	setPorts(t, a, many)
	want = `{"success": 1, "msg": "Distributed switch DVS0 has 5001 ports, more than the 5000 a reply carries; ask for one portgroup with key"}`
	if got := string(exec(t, s, vpoller.Request{Method: "dvswitch.port.get", Name: "DVS0"}).Encode(vpoller.Python)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
