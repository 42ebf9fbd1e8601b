package vsphere

import (
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// The simulator's hosts share one storage device list: two local LUNs
// (mpx.vmhba0:C0:T0:L0, a disk, and mpx.vmhba1:C0:T0:L0), one active path
// each. simPaths adds to pathHost, server-side through the simulator's
// object map before it serves, a SAN LUN of four paths in every state
// (named so that vmhba2 sorts before vmhba10), a LUN of two dead paths
// with only the old PathState set, and a LUN the scsiLun list does not
// name; noPathHost gets no multipath information at all. Each host gets
// a config and storage device struct of its own (the stock ones are
// shared).
const (
	pathHost   = "DC0_H0"
	noPathHost = "DC0_C0_H0"
)

func mpPath(name, state, old string) types.HostMultipathInfoPath {
	return types.HostMultipathInfoPath{Key: "key-vim.host.MultipathInfo.Path-" + name, Name: name, State: state, PathState: old}
}

func rrPolicy() types.BaseHostMultipathInfoLogicalUnitPolicy {
	return &types.HostMultipathInfoLogicalUnitPolicy{Policy: "VMW_PSP_RR"}
}

// sanLUNs are the multipath LUNs simPaths gives pathHost.
var sanLUNs = []types.HostMultipathInfoLogicalUnit{
	{Key: "lu-a", Id: "0200000000600a0b80", Lun: "key-vim.host.ScsiDisk-san-a", Policy: rrPolicy(), Path: []types.HostMultipathInfoPath{
		mpPath("vmhba10:C0:T1:L4", "dead", "dead"),
		mpPath("vmhba2:C0:T1:L4", "active", "active"),
		mpPath("vmhba2:C0:T0:L4", "standby", "standby"),
		mpPath("vmhba3:C0:T0:L4", "disabled", "disabled"),
	}},
	// Only the pre-4.1 PathState, and a state vSphere does not define.
	{Key: "lu-b", Id: "0200000000600a0b81", Lun: "key-vim.host.ScsiDisk-san-b", Policy: rrPolicy(), Path: []types.HostMultipathInfoPath{
		mpPath("vmhba2:C0:T1:L5", "", "dead"),
		mpPath("vmhba3:C0:T1:L5", "", "DEAD"),
		mpPath("vmhba3:C0:T2:L5", "flapping", ""),
	}},
	// No scsiLun entry: the multipath id names it; no policy.
	{Key: "lu-c", Id: "0200000000zz", Lun: "key-vim.host.ScsiDisk-gone", Path: []types.HostMultipathInfoPath{
		mpPath("vmhba2:C0:T1:L6", "active", "active"),
	}},
}

func sanDisk(key, canonical, display string) types.BaseScsiLun {
	return &types.HostScsiDisk{ScsiLun: types.ScsiLun{Key: key, CanonicalName: canonical, DisplayName: display, LunType: "disk"}}
}

func simPaths(m *simulator.Model) {
	for _, e := range m.Map().All("HostSystem") {
		h := e.(*simulator.HostSystem)
		switch h.Name {
		case pathHost:
			cfg := *h.Config
			sd := *cfg.StorageDevice
			sd.ScsiLun = append([]types.BaseScsiLun{
				sanDisk("key-vim.host.ScsiDisk-san-a", "naa.600a0b80", "SAN LUN 4"),
				sanDisk("key-vim.host.ScsiDisk-san-b", "naa.600a0b81", "SAN LUN 5"),
			}, sd.ScsiLun...)
			sd.MultipathInfo = &types.HostMultipathInfo{Lun: append(append([]types.HostMultipathInfoLogicalUnit(nil), sanLUNs...), sd.MultipathInfo.Lun...)}
			cfg.StorageDevice = &sd
			h.Config = &cfg
		case noPathHost:
			cfg := *h.Config
			sd := *cfg.StorageDevice
			sd.MultipathInfo = nil
			cfg.StorageDevice = &sd
			h.Config = &cfg
		}
	}
}

// TestHostPaths: the discovery's values with the mirror and without it.
func TestHostPaths(t *testing.T) {
	t.Parallel()
	t.Run("mirror", func(t *testing.T) { testHostPaths(t, Options{}) })
	t.Run("direct", func(t *testing.T) { testHostPaths(t, direct) })
}

func testHostPaths(t *testing.T, opts Options) {
	s := newSim(t, opts, simPaths)
	agent(t, s) // connected and synced: the first request is not also the login
	r := exec(t, s, vpoller.Request{Method: "host.path.discover", Name: pathHost})
	if r.Success != 0 || r.Msg != "Successfully discovered objects" {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	want := `[{"lun": "0200000000zz", "displayName": "", "policy": "", "paths": 1, "active": 1, "standby": 0, "disabled": 0, "dead": 0, "unknown": 0, "states": "vmhba2:C0:T1:L6=active"}, ` +
		`{"lun": "mpx.vmhba0:C0:T0:L0", "displayName": "Local VMware, Disk (mpx.vmhba0:C0:T0:L0)", "policy": "VMW_PSP_FIXED", "paths": 1, "active": 1, "standby": 0, "disabled": 0, "dead": 0, "unknown": 0, "states": "vmhba0:C0:T0:L0=active"}, ` +
		`{"lun": "mpx.vmhba1:C0:T0:L0", "displayName": "Local NECVMWar CD-ROM (mpx.vmhba1:C0:T0:L0)", "policy": "VMW_PSP_FIXED", "paths": 1, "active": 1, "standby": 0, "disabled": 0, "dead": 0, "unknown": 0, "states": "vmhba1:C0:T0:L0=active"}, ` +
		`{"lun": "naa.600a0b80", "displayName": "SAN LUN 4", "policy": "VMW_PSP_RR", "paths": 4, "active": 1, "standby": 1, "disabled": 1, "dead": 1, "unknown": 0, "states": "vmhba2:C0:T0:L4=standby, vmhba2:C0:T1:L4=active, vmhba3:C0:T0:L4=disabled, vmhba10:C0:T1:L4=dead"}, ` +
		`{"lun": "naa.600a0b81", "displayName": "SAN LUN 5", "policy": "VMW_PSP_RR", "paths": 3, "active": 0, "standby": 0, "disabled": 0, "dead": 2, "unknown": 1, "states": "vmhba2:C0:T1:L5=dead, vmhba3:C0:T1:L5=dead, vmhba3:C0:T2:L5=unknown"}]`
	if got := pyJSON(t, r.Result); got != want {
		t.Errorf("host.path.discover:\n got %s\nwant %s", got, want)
	}
	d, err := lld.Discovery(&vpoller.Request{Method: "host.path.discover"}, r, vpoller.Compact)
	if err != nil || !strings.Contains(string(d), `"{#VSPHERE.HOST.PATH.LUN}":"naa.600a0b81","{#VSPHERE.HOST.PATH.DISPLAYNAME}":"SAN LUN 5"`) {
		t.Errorf("LLD: %s, %v", d, err)
	}

	for _, tc := range []struct {
		req     vpoller.Request
		success int
		msg     string
		result  string
	}{
		{vpoller.Request{Method: "host.path.discover", Name: noPathHost}, 0, "Successfully discovered objects", `[]`},
		{vpoller.Request{Method: "host.path.discover", Name: "nope"}, 1, "Cannot find object nope", `None`},
		{vpoller.Request{Method: "host.path.discover"}, 1, "Invalid task request", `None`},
		{vpoller.Request{Method: "host.path.discover", Name: "DC0_H0_VM0"}, 1, "Cannot find object DC0_H0_VM0", `None`},
	} {
		r := exec(t, s, tc.req)
		got := "None"
		if r.Result != nil {
			got = pyJSON(t, r.Result)
		}
		if r.Success != tc.success || r.Msg != tc.msg || got != tc.result {
			t.Errorf("%s %s: %s", tc.req.Method, tc.req.Name, r.Encode(vpoller.Python))
		}
	}
}

// TestHostPathsFromTheMirror: the multipath information is watched from
// the start and the LUN names join after the first read; a path that dies (reported to the simulator's collectors, as
// ESXi reports it to vCenter) reaches the discovery with no
// RetrievePropertiesEx.
func TestHostPathsFromTheMirror(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simPaths)
	a := agent(t, s)
	dead := func() any {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: "host.path.discover", Name: pathHost})
		if r.Success != 0 {
			t.Fatal(string(r.Encode(vpoller.Python)))
		}
		return field(r.Result.([]any)[3], "dead")
	}
	watched := func() int { return s.Stats().Agents["sim"].Objects.Mirror.WatchedPaths["HostSystem"] }
	start := watched()
	if got := dead(); got != int64(1) {
		t.Fatalf("first read: dead %v", got)
	}
	// multipathInfo is watched from the start, the scsiLun list joins.
	eventually(t, 5*time.Second, "scsiLun joined", func() bool { return watched() >= start+1 })

	ref := lookup(t, a, objects.Host, pathHost)
	h := a.Simulator().Model().Map().Get(ref).(*simulator.HostSystem)
	luns := append([]types.HostMultipathInfoLogicalUnit(nil), h.Config.StorageDevice.MultipathInfo.Lun...)
	luns[0].Path = append([]types.HostMultipathInfoPath(nil), luns[0].Path...)
	luns[0].Path[1] = mpPath("vmhba2:C0:T1:L4", "dead", "dead")
	before := s.Stats()
	notify(t, a, ref, pathMultipath, types.HostMultipathInfo{Lun: luns})
	eventually(t, 10*time.Second, "the dead path", func() bool { return dead() == int64(2) })
	r := exec(t, s, vpoller.Request{Method: "host.path.discover", Name: pathHost})
	if got := field(r.Result.([]any)[3], "states"); got != "vmhba2:C0:T0:L4=standby, vmhba2:C0:T1:L4=dead, vmhba3:C0:T0:L4=disabled, vmhba10:C0:T1:L4=dead" {
		t.Errorf("states after the change: %v", got)
	}
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 0 {
		t.Errorf("reads of the watched paths went to vCenter: %v", by)
	}
}
