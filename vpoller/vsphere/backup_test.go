package vsphere

import (
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// The simulator's VMs have CBT off and, for snapshots it takes, state
// files of 0 bytes and no delta disks. simBackup gives backupVM,
// server-side, CBT on and the file layout of a VM with two snapshots:
// a base disk, the delta taken by each snapshot, the state file of each
// and the memory file of the second (backupLayout); and the datastore
// thin disks that may still grow by dsUncommitted.
const (
	backupVM      = "DC0_H0_VM1"
	dsUncommitted = int64(5) << 30
	// backupSnapshotBytes: both deltas, both state files, the memory file.
	backupSnapshotBytes = 400 + 2e9 + 300 + 1e9 + 30000 + 20000 + 4e9
)

func diskUnit(keys ...int32) types.VirtualMachineFileLayoutExDiskUnit {
	return types.VirtualMachineFileLayoutExDiskUnit{FileKey: keys}
}

func backupLayout() *types.VirtualMachineFileLayoutEx {
	file := func(key int32, name, typ string, size int64) types.VirtualMachineFileLayoutExFileInfo {
		return types.VirtualMachineFileLayoutExFileInfo{Key: key, Name: "[LocalDS_0] " + backupVM + "/" + name, Type: typ, Size: size}
	}
	return &types.VirtualMachineFileLayoutEx{
		File: []types.VirtualMachineFileLayoutExFileInfo{
			file(1, backupVM+".vmx", "config", 1000),
			file(2, "disk1.vmdk", "diskDescriptor", 500),
			file(3, "disk1-flat.vmdk", "diskExtent", 10e9),
			file(4, "disk1-000001.vmdk", "diskDescriptor", 400),
			file(5, "disk1-000001-sesparse.vmdk", "diskExtent", 2e9),
			file(6, "disk1-000002.vmdk", "diskDescriptor", 300),
			file(7, "disk1-000002-sesparse.vmdk", "diskExtent", 1e9),
			file(8, backupVM+"-Snapshot1.vmsn", "snapshotData", 30000),
			file(9, backupVM+"-Snapshot2.vmsn", "snapshotData", 20000),
			file(10, backupVM+"-Snapshot2.vmem", "snapshotMemory", 4e9),
		},
		Disk: []types.VirtualMachineFileLayoutExDiskLayout{{Key: 2000, Chain: []types.VirtualMachineFileLayoutExDiskUnit{diskUnit(2, 3), diskUnit(4, 5), diskUnit(6, 7)}}},
		Snapshot: []types.VirtualMachineFileLayoutExSnapshotLayout{
			{Key: types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: "snapshot-2"}, DataKey: 9, MemoryKey: 10,
				Disk: []types.VirtualMachineFileLayoutExDiskLayout{{Key: 2000, Chain: []types.VirtualMachineFileLayoutExDiskUnit{diskUnit(2, 3), diskUnit(4, 5)}}}},
			{Key: types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: "snapshot-1"}, DataKey: 8, MemoryKey: -1,
				Disk: []types.VirtualMachineFileLayoutExDiskLayout{{Key: 2000, Chain: []types.VirtualMachineFileLayoutExDiskUnit{diskUnit(2, 3)}}}},
		},
	}
}

func simBackup(m *simulator.Model) {
	for _, e := range m.Map().All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		if vm.Name == backupVM {
			cfg := *vm.Config
			cfg.ChangeTrackingEnabled = types.NewBool(true)
			vm.Config = &cfg
			vm.LayoutEx = backupLayout()
		}
	}
	for _, e := range m.Map().All("Datastore") {
		ds := e.(*simulator.Datastore)
		ds.Summary.Uncommitted = dsUncommitted
	}
}

// TestVMBackup: CBT, snapshot size and the backup time of a custom
// attribute, with the mirror and without it.
func TestVMBackup(t *testing.T) {
	t.Parallel()
	t.Run("mirror", func(t *testing.T) { testVMBackup(t, Options{}) })
	t.Run("direct", func(t *testing.T) { testVMBackup(t, direct) })
}

func testVMBackup(t *testing.T, opts Options) {
	s := newSim(t, opts, simBackup)
	a := agent(t, s)
	const veeam = "Last backup: [11/9/2023 10:00:14 PM], Job name: [nightly]"
	setField(t, a, lookup(t, a, objects.VM, backupVM), "Last Backup", "VirtualMachine", veeam)
	setField(t, a, lookup(t, a, objects.VM, "DC0_C0_RP0_VM0"), "Last Backup", "VirtualMachine", "2999-01-01T00:00:00Z") // clocks apart
	setField(t, a, lookup(t, a, objects.VM, "DC0_C0_RP0_VM1"), "Last Backup", "VirtualMachine", "never")
	veeamTime := time.Date(2023, 11, 9, 22, 0, 14, 0, time.Local)

	get := func(req vpoller.Request) vpoller.Object {
		t.Helper()
		r := exec(t, s, req)
		if r.Success != 0 || r.Msg != "Successfully retrieved backup information" {
			t.Fatalf("%s %s %q: %s", req.Method, req.Name, req.Key, r.Encode(vpoller.Python))
		}
		return r.Result.([]any)[0].(vpoller.Object)
	}
	oldest := time.Since(veeamTime)
	o := get(vpoller.Request{Method: "vm.backup.get", Name: backupVM, Key: "Last Backup"})
	newest := time.Since(veeamTime)
	if keysOf(o) != "name,changeTrackingEnabled,snapshots,snapshotSize,backupAttribute,backupValue,lastBackup,backupAge" {
		t.Fatalf("keys %s", keysOf(o))
	}
	age, _ := o.Get("backupAge")
	if field(o, "name") != backupVM || field(o, "changeTrackingEnabled") != true || field(o, "snapshots") != int64(2) ||
		field(o, "snapshotSize") != int64(backupSnapshotBytes) || field(o, "backupAttribute") != "Last Backup" ||
		field(o, "backupValue") != veeam || field(o, "lastBackup") != veeamTime.Unix() ||
		age.(int64) < int64(oldest/time.Second) || age.(int64) > int64(newest/time.Second) {
		t.Errorf("vm.backup.get %s: %s (age between %v and %v)", backupVM, pyJSON(t, o), oldest, newest)
	}
	// The zabbix helper and vpoller.poll take result[-1][property].
	req := vpoller.Request{Method: "vm.backup.get", Name: backupVM, Key: "Last Backup", Properties: []string{"lastBackup"}}
	if v, err := lld.Item(&req, exec(t, s, req)); err != nil || v != veeamTime.Unix() {
		t.Errorf("item lastBackup: %v, %v", v, err)
	}

	for _, tc := range []struct {
		vm, key, want string
	}{
		// No attribute asked for: the time is unknown.
		{backupVM, "", `{"name": "DC0_H0_VM1", "changeTrackingEnabled": true, "snapshots": 2, "snapshotSize": 7000050700, "backupAttribute": "", "backupValue": "", "lastBackup": 0, "backupAge": -1}`},
		// A stock VM: CBT off, no snapshots; an attribute that is not defined.
		{"DC0_H0_VM0", "Veeam", `{"name": "DC0_H0_VM0", "changeTrackingEnabled": false, "snapshots": 0, "snapshotSize": 0, "backupAttribute": "Veeam", "backupValue": "", "lastBackup": 0, "backupAge": -1}`},
		// Defined, not set on this VM.
		{"DC0_H0_VM0", "Last Backup", `{"name": "DC0_H0_VM0", "changeTrackingEnabled": false, "snapshots": 0, "snapshotSize": 0, "backupAttribute": "Last Backup", "backupValue": "", "lastBackup": 0, "backupAge": -1}`},
		// A backup in the future has age 0.
		{"DC0_C0_RP0_VM0", "Last Backup", `{"name": "DC0_C0_RP0_VM0", "changeTrackingEnabled": false, "snapshots": 0, "snapshotSize": 0, "backupAttribute": "Last Backup", "backupValue": "2999-01-01T00:00:00Z", "lastBackup": 32472144000, "backupAge": 0}`},
		// No time in the text.
		{"DC0_C0_RP0_VM1", "Last Backup", `{"name": "DC0_C0_RP0_VM1", "changeTrackingEnabled": false, "snapshots": 0, "snapshotSize": 0, "backupAttribute": "Last Backup", "backupValue": "never", "lastBackup": 0, "backupAge": -1}`},
	} {
		if got := pyJSON(t, get(vpoller.Request{Method: "vm.backup.get", Name: tc.vm, Key: tc.key})); got != tc.want {
			t.Errorf("vm.backup.get %s %q:\n got %s\nwant %s", tc.vm, tc.key, got, tc.want)
		}
	}

	// Datastore provisioning: used 100% - free; provisioned adds the thin
	// disks' uncommitted bytes.
	ds := exec(t, s, vpoller.Request{Method: "datastore.discover", Properties: []string{"info.url", "summary.capacity", "summary.freeSpace"}}).Result.([]any)[0]
	url, capacity, free := field(ds, "info.url").(string), field(ds, "summary.capacity").(int64), field(ds, "summary.freeSpace").(int64)
	r := exec(t, s, vpoller.Request{Method: "datastore.space.get", Name: url})
	if r.Success != 0 || r.Msg != "Successfully retrieved properties" {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	d := r.Result.([]any)[0]
	used := capacity - free
	pct := func(n int64) float64 { return float64(int64(float64(n)/float64(capacity)*10000+0.5)) / 100 }
	if field(d, "uncommitted") != dsUncommitted || field(d, "used") != used || field(d, "provisioned") != used+dsUncommitted ||
		field(d, "usedPct") != pct(used) || field(d, "provisionedPct") != pct(used+dsUncommitted) || pct(used+dsUncommitted) <= pct(used) {
		t.Errorf("datastore.space.get: %s (capacity %d, free %d)", pyJSON(t, d), capacity, free)
	}

	for _, tc := range []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Method: "vm.backup.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "vm.backup.get", Name: "DC0_H0"}, "Cannot find object DC0_H0"},
		{vpoller.Request{Method: "vm.backup.get"}, "Invalid task request"},
		{vpoller.Request{Method: "datastore.space.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "datastore.space.get"}, "Invalid task request"},
	} {
		r := exec(t, s, tc.req)
		if r.Success != 1 || r.Msg != tc.msg || r.Result != nil {
			t.Errorf("%s %s: got %s, want %q", tc.req.Method, tc.req.Name, r.Encode(vpoller.Python), tc.msg)
		}
	}
}

// TestVMBackupFromTheMirror: CBT and the file layout are watched from
// the start (objects' defaultPaths); CBT switched on and a new snapshot's
// files (reported to the simulator's collectors, as vCenter reports them)
// reach vm.backup.get with no RetrievePropertiesEx.
func TestVMBackupFromTheMirror(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simBackup)
	a := agent(t, s)
	const vm = "DC0_H0_VM0"
	get := func() vpoller.Object {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: "vm.backup.get", Name: vm})
		if r.Success != 0 {
			t.Fatal(string(r.Encode(vpoller.Python)))
		}
		return r.Result.([]any)[0].(vpoller.Object)
	}
	if o := get(); field(o, "changeTrackingEnabled") != false || field(o, "snapshotSize") != int64(0) {
		t.Fatalf("first read: %s", pyJSON(t, o))
	}

	ref := lookup(t, a, objects.VM, vm)
	layout := backupLayout()
	before := s.Stats()
	notify(t, a, ref, pathCBT, true)
	notify(t, a, ref, pathLayoutFiles, layout.File)
	notify(t, a, ref, pathLayoutDisks, layout.Disk)
	notify(t, a, ref, pathLayoutSnapshot, layout.Snapshot)
	eventually(t, 10*time.Second, "CBT and snapshots", func() bool {
		o := get()
		return field(o, "changeTrackingEnabled") == true && field(o, "snapshotSize") == int64(backupSnapshotBytes) && field(o, "snapshots") == int64(2)
	})
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 0 {
		t.Errorf("reads of the watched paths went to vCenter: %v", by)
	}
}

// TestParseBackupTime: the forms backup tools write.
func TestParseBackupTime(t *testing.T) {
	t.Parallel()
	local := func(y int, mo time.Month, d, h, mi, s int) int64 {
		return time.Date(y, mo, d, h, mi, s, 0, time.Local).Unix()
	}
	for _, tc := range []struct {
		in   string
		want int64 // Unix seconds; 0: no time
	}{
		{"2024-03-05T04:05:06Z", time.Date(2024, 3, 5, 4, 5, 6, 0, time.UTC).Unix()},
		{"2024-03-05T04:05:06.789+02:00", time.Date(2024, 3, 5, 2, 5, 6, 0, time.UTC).Unix()},
		{"backup ok at 2024-03-05 04:05:06 (job 7)", local(2024, 3, 5, 4, 5, 6)},
		{"2024-03-05 04:05", local(2024, 3, 5, 4, 5, 0)},
		{"Last backup: [11/9/2023 10:00:14 PM], Job name: [nightly]", local(2023, 11, 9, 22, 0, 14)},
		{"11/9/2023 10:00 am", local(2023, 11, 9, 10, 0, 0)},
		{"3/15/2024 23:59:58", local(2024, 3, 15, 23, 59, 58)},
		{"Sicherung 05.03.2024 04:05:06 erfolgreich", local(2024, 3, 5, 4, 5, 6)},
		{" 1700000000 ", 1700000000},
		{"", 0}, {"never", 0}, {"13/45/2024 99:99", 0}, {"12345", 0}, {"2024-13-40T00:00:00Z", 0},
	} {
		got, ok := parseBackupTime(tc.in)
		if tc.want == 0 && ok || tc.want != 0 && (!ok || got.Unix() != tc.want) {
			t.Errorf("parseBackupTime(%q) = %v, %v; want %d", tc.in, got, ok, tc.want)
		}
	}
}

// TestSnapshotSize: what counts as snapshot bytes.
func TestSnapshotSize(t *testing.T) {
	t.Parallel()
	l := backupLayout()
	for _, tc := range []struct {
		name  string
		snaps []types.VirtualMachineFileLayoutExSnapshotLayout
		disks []types.VirtualMachineFileLayoutExDiskLayout
		want  int64
	}{
		{"two snapshots", l.Snapshot, l.Disk, backupSnapshotBytes},
		{"no snapshots: the chain is not counted", nil, l.Disk, 0},
		// The first snapshot alone: its state file and both deltas after it.
		{"one snapshot", l.Snapshot[1:], l.Disk, 400 + 2e9 + 300 + 1e9 + 30000},
		// A linked clone: the parent's disk (2, 3) is in the root
		// snapshot's chain, not counted.
		{"linked clone", []types.VirtualMachineFileLayoutExSnapshotLayout{{DataKey: 8, MemoryKey: -1,
			Disk: []types.VirtualMachineFileLayoutExDiskLayout{{Key: 2000, Chain: []types.VirtualMachineFileLayoutExDiskUnit{diskUnit(2, 3), diskUnit(4, 5)}}}}},
			l.Disk, 300 + 1e9 + 30000},
	} {
		if got := snapshotSize(l.File, tc.disks, tc.snaps); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
