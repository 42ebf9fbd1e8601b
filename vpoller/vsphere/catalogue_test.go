package vsphere

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	govobj "github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// guestVM is the simulator VM given guest information (VMware Tools
// running, two guest disks, one NIC, a CPU usage) by simGuest.
const guestVM = "DC0_H0_VM0"

// simGuest sets, server-side, what VMware Tools would report: the
// simulator fills none of it (test setup only).
func simGuest(m *simulator.Model) {
	for _, e := range m.Map().All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		if vm.Name != guestVM {
			continue
		}
		// vcsim does not fill the portgroup's vm list: do what vCenter does.
		for _, n := range vm.Network {
			if pg, ok := m.Map().Get(n).(*simulator.DistributedVirtualPortgroup); ok {
				pg.Vm = append(pg.Vm, vm.Self)
			}
		}
		vm.Guest.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
		vm.Guest.Disk = []types.GuestDiskInfo{
			{DiskPath: "/", Capacity: 10737418240, FreeSpace: 5368709120, FilesystemType: "ext4"},
			{DiskPath: `C:\`, Capacity: 1, FreeSpace: 0},
		}
		vm.Guest.Net = []types.GuestNicInfo{{Network: "VM Network", IpAddress: []string{"10.0.0.5", "fe80::250:56ff:fe01:2"},
			MacAddress: "00:50:56:01:02:03", Connected: true, DeviceConfigId: 4000}}
		vm.Summary.QuickStats.OverallCpuUsage = 500
	}
}

// addSnapshots takes a chain of n snapshots on vm (each a child of the
// previous: a tree of depth n).
func addSnapshots(t *testing.T, a *Agent, vm string, n int) {
	t.Helper()
	ref := lookup(t, a, objects.VM, vm)
	vc, _ := a.Client(t.Context())
	for i := range n {
		task, err := govobj.NewVirtualMachine(vc, ref).CreateSnapshot(t.Context(), fmt.Sprintf("snap-%d", i), fmt.Sprintf("level %d", i), false, i%2 == 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// raiseAlarm posts the vcsim event that triggers the simulator's VM alarm.
func raiseAlarm(t *testing.T, a *Agent, vm, eventTypeID string) {
	t.Helper()
	ref := lookup(t, a, objects.VM, vm)
	vc, _ := a.Client(t.Context())
	_, err := methods.PostEvent(t.Context(), vc, &types.PostEvent{This: *vc.ServiceContent.EventManager,
		EventToPost: &types.EventEx{EventTypeId: eventTypeID, ObjectType: "VirtualMachine", ObjectId: ref.Value,
			Event: types.Event{Vm: &types.VmEventArgument{Vm: ref}}}})
	if err != nil {
		t.Fatal(err)
	}
}

func keysOf(v any) string {
	o, _ := v.(vpoller.Object)
	return strings.Join(o.Keys(), ",")
}

func field(v any, path ...string) any {
	for _, p := range path {
		o, _ := v.(vpoller.Object)
		v, _ = o.Get(p)
	}
	return v
}

// TestAllMethods runs every method of the catalogue against the simulator
// and checks the original's message, result shape and representative
// values. It fails if a method of vpoller.Methods() is not exercised.
func TestAllMethods(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simGuest, simLicensesAndHealth(t))
	a := agent(t, s)
	inv := SimulatorInventory("vpx")
	ds := exec(t, s, vpoller.Request{Method: "datastore.discover", Properties: []string{"info.url"}})
	url := field(ds.Result.([]any)[0], "info.url").(string)
	addSnapshots(t, a, guestVM, 3)
	// The mirror follows the new snapshots within its freshness bound.
	eventually(t, 10*time.Second, "snapshots in the mirror", func() bool {
		r := exec(t, s, vpoller.Request{Method: "vm.snapshot.get", Name: guestVM})
		return r.Success == 0 && len(r.Result.([]any)) == 3
	})
	pools := exec(t, s, vpoller.Request{Method: "vm.get", Name: "DC0_C0_RP0_VM0", Properties: []string{"resourcePool"}})
	poolID := field(pools.Result.([]any)[0], "resourcePool").(string)
	dsGet := exec(t, s, vpoller.Request{Method: "datastore.get", Name: url, Properties: []string{"summary.capacity", "summary.freeSpace", "summary.uncommitted"}}).Result.([]any)[0]
	dsCap, dsFree := field(dsGet, "summary.capacity").(int64), field(dsGet, "summary.freeSpace").(int64)
	dsUnc, _ := field(dsGet, "summary.uncommitted").(int64)
	hz := field(exec(t, s, vpoller.Request{Method: "host.get", Name: "DC0_H0", Properties: []string{"hardware.cpuInfo.hz"}}).Result.([]any)[0], "hardware.cpuInfo.hz").(int64)
	// a datastore cluster holding LocalDS_0, and DVS0's uuid.
	makePod(t, a, "DC0_POD0", false)
	eventually(t, 10*time.Second, "datastore cluster in the mirror", func() bool {
		return len(names(t, exec(t, s, vpoller.Request{Method: "datastore.cluster.discover"}))) == 1
	})
	dvsUUID := a.Simulator().Model().Map().Get(lookup(t, a, objects.DVSwitch, "DVS0")).(*simulator.DistributedVirtualSwitch).Uuid

	// One tag on an object of each kind, one custom attribute per type
	// (in a subtest, so that the admin sessions are gone before session.get).
	t.Run("setup tags and attributes", func(t *testing.T) {
		addTag(t, adminTags(t, a), "Env", "prod", "Production", lookup(t, a, objects.VM, guestVM), lookup(t, a, objects.Host, "DC0_H0"),
			lookup(t, a, objects.Datastore, url), lookup(t, a, objects.Cluster, "DC0_C0"))
		setField(t, a, lookup(t, a, objects.VM, guestVM), "Owner", "VirtualMachine", "alice")
		setField(t, a, lookup(t, a, objects.Host, "DC0_H0"), "Rack", "HostSystem", "r12")
	})
	// Last, so that its event is the newest (event.get below).
	raiseAlarm(t, a, guestVM, "vcsim.vm.fatal")

	type check func(t *testing.T, result any)
	list := func(n int, keys string, more ...func(t *testing.T, l []any)) check {
		return func(t *testing.T, result any) {
			l, ok := result.([]any)
			if !ok {
				t.Fatalf("result %T, want a list", result)
			}
			if (n >= 0 && len(l) != n) || (n < 0 && len(l) == 0) {
				t.Fatalf("%d elements, want %d", len(l), n)
			}
			if keys != "" && keysOf(l[0]) != keys {
				t.Errorf("keys %s, want %s", keysOf(l[0]), keys)
			}
			for _, f := range more {
				f(t, l)
			}
		}
	}
	obj := func(keys string, more func(t *testing.T, o vpoller.Object)) check {
		return func(t *testing.T, result any) {
			o, ok := result.(vpoller.Object)
			if !ok {
				t.Fatalf("result %T, want an object", result)
			}
			if keysOf(o) != keys {
				t.Errorf("keys %s, want %s", keysOf(o), keys)
			}
			more(t, o)
		}
	}
	equal := func(i int, path string, want any) func(t *testing.T, l []any) {
		return func(t *testing.T, l []any) {
			if got := field(l[i], strings.Split(path, "/")...); got != want {
				t.Errorf("[%d].%s = %#v, want %#v", i, path, got, want)
			}
		}
	}
	namesList := func(path string, want ...string) func(t *testing.T, o vpoller.Object) {
		return func(t *testing.T, o vpoller.Object) {
			v, _ := o.Get(path)
			var got []string
			for _, x := range v.([]any) {
				got = append(got, field(x, "name").(string))
			}
			sort.Strings(got)
			have := "|" + strings.Join(got, "|") + "|"
			for _, w := range want {
				if !strings.Contains(have, "|"+w+"|") {
					t.Errorf("%s names %v lack %s", path, got, w)
				}
			}
		}
	}

	const (
		okProps   = "Successfully retrieved properties"
		okObjects = "Successfully retrieved object properties"
		okDisc    = "Successfully discovered objects"
	)
	tests := []struct {
		req   vpoller.Request
		msg   string
		check check
	}{
		{vpoller.Request{Method: "about"}, okProps, list(1, "fullName")},
		{vpoller.Request{Method: "event.latest"}, "Successfully retrieved event", list(1, "event")},
		{vpoller.Request{Method: "event.get", MaxSample: 3}, "Successfully retrieved events",
			list(3, "key,createdTime,eventType,severity,message,entity,entityMoRef,userName", equal(2, "eventType", "vcsim.vm.fatal"), equal(2, "entityMoRef", lookup(t, a, objects.VM, guestVM).Value), equal(2, "severity", "info"))},
		{vpoller.Request{Method: "session.get"}, "Successfully retrieved sessions", list(1, "key,userName,fullName,loginTime,lastActiveTime,ipAddress,userAgent,callCount", equal(0, "userName", "user"))},
		{vpoller.Request{Method: "perf.metric.info"}, "Successfully retrieved performance metrics info", list(-1, "", equal(0, "rollupType", "none"))},
		{vpoller.Request{Method: "perf.interval.info"}, "Successfully retrieved performance historical intervals",
			list(4, "enabled,key,length,level,name,samplingPeriod", equal(0, "name", "Past Day"), equal(3, "samplingPeriod", int64(86400)))},

		{vpoller.Request{Method: "net.discover"}, okDisc, list(inv.Networks, "name")},
		{vpoller.Request{Method: "net.get", Name: "VM Network", Properties: []string{"summary.accessible"}}, okObjects, list(1, "name,summary.accessible", equal(0, "summary.accessible", true))},
		{vpoller.Request{Method: "net.host.get", Name: "DC0_DVPG0"}, okDisc, obj("name,host", namesList("host", "DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"))},
		{vpoller.Request{Method: "net.vm.get", Name: "DC0_DVPG0"}, okDisc, obj("name,vm", namesList("vm", guestVM))},

		{vpoller.Request{Method: "datacenter.discover"}, okDisc, list(1, "name", equal(0, "name", "DC0"))},
		{vpoller.Request{Method: "datacenter.get", Name: "DC0", Properties: []string{"overallStatus"}}, okObjects, list(1, "name,overallStatus")},
		{vpoller.Request{Method: "datacenter.alarm.get", Name: "DC0"}, "Successfully retrieved alarms",
			list(1, "key,info,time,entity,acknowledged,overallStatus,acknowledgedByUser", equal(0, "entity", guestVM), equal(0, "overallStatus", "red"), equal(0, "info", "vcsim VM Alarm"))},
		{vpoller.Request{Method: "datacenter.perf.metric.info", Name: "DC0"}, "Successfully retrieved performance metrics", list(-1, "counterId,instance")},
		{vpoller.Request{Method: "datacenter.perf.metric.get", Name: "DC0", CounterName: "vmop.numPoweron.number.latest", PerfInterval: "Past Day"}, "Successfully retrieved performance metrics",
			list(1, "interval,timestamp,counterId,instance,value", equal(0, "interval", int64(300)))},

		{vpoller.Request{Method: "cluster.discover"}, okDisc, list(1, "name")},
		{vpoller.Request{Method: "cluster.get", Name: "DC0_C0", Properties: []string{"summary.numHosts"}}, okObjects, list(1, "name,summary.numHosts", equal(0, "summary.numHosts", int64(3)))},
		{vpoller.Request{Method: "cluster.alarm.get", Name: "DC0_C0"}, "Successfully retrieved alarms", list(0, "")},
		{vpoller.Request{Method: "cluster.perf.metric.info", Name: "DC0_C0"}, "Successfully retrieved performance metrics", list(-1, "counterId,instance")},
		{vpoller.Request{Method: "cluster.perf.metric.get", Name: "DC0_C0", CounterName: "cpu.usagemhz.megaHertz.average", PerfInterval: "Past Week", MaxSample: 2}, "Successfully retrieved performance metrics",
			list(2, "interval,timestamp,counterId,instance,value", equal(1, "interval", int64(1800)), equal(1, "counterId", "cpu.usagemhz.megaHertz.average"))},

		{vpoller.Request{Method: "resource.pool.discover"}, okDisc, list(2, "name")},
		{vpoller.Request{Method: "resource.pool.get", Name: poolID, Properties: []string{"runtime.overallStatus"}}, okObjects, list(1, "name,runtime.overallStatus", equal(0, "name", "Resources"))},
		{vpoller.Request{Method: "resource.pool.vm.get", Name: poolID, Properties: []string{"runtime.powerState"}}, okDisc,
			list(2, "name,runtime.powerState,resourcePool.name", equal(0, "resourcePool.name", "Resources"), equal(0, "runtime.powerState", "poweredOn"))},

		{vpoller.Request{Method: "host.discover"}, okDisc, list(inv.Hosts, "name")},
		{vpoller.Request{Method: "host.get", Name: "DC0_H0", Properties: []string{"runtime.powerState"}}, okObjects, list(1, "name,runtime.powerState", equal(0, "runtime.powerState", "poweredOn"))},
		{vpoller.Request{Method: "host.alarm.get", Name: "DC0_H0"}, "Successfully retrieved alarms", list(0, "")},
		{vpoller.Request{Method: "host.perf.metric.info", Name: "DC0_H0"}, "Successfully retrieved performance metrics", list(-1, "counterId,instance")},
		{vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_H0", CounterName: "cpu.usage.percent.average"}, "Successfully retrieved performance metrics",
			list(1, "interval,timestamp,counterId,instance,value", equal(0, "interval", int64(20)), equal(0, "instance", ""))},
		{vpoller.Request{Method: "host.cluster.get", Name: "DC0_C0_H0"}, okProps, list(1, "name,cluster", equal(0, "cluster", "DC0_C0"))},
		{vpoller.Request{Method: "host.vm.get", Name: "DC0_H0"}, okDisc, list(2, "name")},
		{vpoller.Request{Method: "host.datastore.get", Name: "DC0_H0"}, okDisc, list(1, "name,info.url", equal(0, "info.url", url))},
		{vpoller.Request{Method: "host.net.get", Name: "DC0_H0"}, okDisc, obj("name,network", namesList("network", "VM Network", "DC0_DVPG0"))},
		// The simulator's stock health system: 90 green sensors reading 0 (sensors_test.go sets real ones).
		{vpoller.Request{Method: "host.sensor.discover", Name: "DC0_H0"}, okDisc,
			list(90, "name,sensorType,healthState", equal(0, "name", "VMware Rollup Health State"), equal(0, "healthState", "green"))},
		{vpoller.Request{Method: "host.sensor.get", Name: "DC0_H0", Key: "VMware Rollup Health State", Properties: []string{"value"}}, okProps,
			list(1, "name,sensorType,healthState,currentReading,unitModifier,baseUnits,value", equal(0, "sensorType", "system"), equal(0, "value", 0.0))},
		{vpoller.Request{Method: "host.health.get", Name: "DC0_H0"}, okProps,
			list(1, "name,overallStatus,hardwareStatus,sensors,green,yellow,red,unknown", equal(0, "hardwareStatus", "green"), equal(0, "sensors", int64(90)), equal(0, "green", int64(90)))},

		// Perf instances (instances_test.go has the full replies).
		{vpoller.Request{Method: "host.pnic.discover", Name: "DC0_H0"}, okDisc,
			list(2, "instance,mac,driver,linkSpeed", equal(0, "instance", "vmnic0"), equal(1, "instance", "vmnic1"), equal(1, "linkSpeed", int64(10000)))},
		{vpoller.Request{Method: "host.datastore.discover", Name: "DC0_H0"}, okDisc,
			list(1, "instance,name,url,moref", equal(0, "name", "LocalDS_0"), equal(0, "url", url), equal(0, "instance", "DC0-LocalDS_0"),
				equal(0, "moref", lookup(t, a, objects.Datastore, url).Value))},
		{vpoller.Request{Method: "host.lun.discover", Name: "DC0_H0"}, okDisc,
			list(1, "instance,displayName,vendor,model,capacity", equal(0, "instance", "mpx.vmhba0:C0:T0:L0"), equal(0, "capacity", int64(34359738368)))},

		{vpoller.Request{Method: "vm.discover"}, okDisc, list(inv.VMs, "name")},
		{vpoller.Request{Method: "vm.get", Name: guestVM, Properties: []string{"guest.toolsRunningStatus"}}, okObjects, list(1, "name,guest.toolsRunningStatus", equal(0, "guest.toolsRunningStatus", "guestToolsRunning"))},
		{vpoller.Request{Method: "vm.alarm.get", Name: guestVM}, "Successfully retrieved alarms",
			list(1, "key,info,time,entity,acknowledged,overallStatus,acknowledgedByUser", equal(0, "acknowledged", false), equal(0, "acknowledgedByUser", nil), equal(0, "entity", guestVM))},
		{vpoller.Request{Method: "vm.perf.metric.info", Name: guestVM}, "Successfully retrieved performance metrics", list(-1, "counterId,instance")},
		{vpoller.Request{Method: "vm.perf.metric.get", Name: guestVM, CounterName: "mem.usage.percent.average", MaxSample: 5}, "Successfully retrieved performance metrics",
			list(5, "interval,timestamp,counterId,instance,value")},
		{vpoller.Request{Method: "vm.host.get", Name: guestVM}, okObjects, list(1, "name,host", equal(0, "host", "DC0_H0"))},
		{vpoller.Request{Method: "vm.datastore.get", Name: guestVM}, okDisc, list(1, "name,info.url", equal(0, "name", "LocalDS_0"))},
		{vpoller.Request{Method: "vm.net.get", Name: guestVM}, okDisc, obj("name,network", namesList("network", "DC0_DVPG0"))},
		{vpoller.Request{Method: "vm.disk.discover", Name: guestVM, Properties: []string{"capacity", "freeSpace"}}, okDisc,
			list(1, "name,disk", func(t *testing.T, l []any) {
				b, _ := vpoller.Marshal(l[0], vpoller.Python)
				if want := `{"name": "DC0_H0_VM0", "disk": [{"diskPath": "/", "capacity": 10737418240, "freeSpace": 5368709120}, {"diskPath": "C:\\", "capacity": 1, "freeSpace": 0}]}`; string(b) != want {
					t.Errorf("got %s\nwant %s", b, want)
				}
			})},
		{vpoller.Request{Method: "vm.disk.get", Name: guestVM, Key: "/", Properties: []string{"freeSpace"}}, okProps,
			list(1, "name,disk", equal(0, "disk/freeSpace", int64(5368709120)), equal(0, "disk/diskPath", "/"))},
		{vpoller.Request{Method: "vm.guest.net.get", Name: guestVM, Properties: []string{"ipAddress", "macAddress", "connected"}}, okProps,
			obj("name,net", func(t *testing.T, o vpoller.Object) {
				b, _ := vpoller.Marshal(o, vpoller.Python)
				if want := `{"name": "DC0_H0_VM0", "net": [{"network": "VM Network", "ipAddress": ["10.0.0.5", "fe80::250:56ff:fe01:2"], "macAddress": "00:50:56:01:02:03", "connected": true}]}`; string(b) != want {
					t.Errorf("got %s\nwant %s", b, want)
				}
			})},
		{vpoller.Request{Method: "vm.vdisk.discover", Name: guestVM}, okDisc,
			list(1, "instance,label,capacity,fileName", equal(0, "instance", "scsi0:0"), equal(0, "capacity", int64(10737418240)),
				equal(0, "fileName", "[LocalDS_0] DC0_H0_VM0/disk1.vmdk"))},
		{vpoller.Request{Method: "vm.vnic.discover", Name: guestVM}, okDisc,
			list(1, "instance,label,macAddress,network,connected", equal(0, "instance", "4000"), equal(0, "network", lookup(t, a, objects.Network, "DC0_DVPG0").Value),
				equal(0, "connected", true))},
		// vcsim keeps no guest processes unless programs were started: an empty list.
		{vpoller.Request{Method: "vm.process.get", Name: guestVM, Username: "u", Password: "p"}, okProps, list(0, "")},
		{vpoller.Request{Method: "vm.snapshot.get", Name: guestVM}, "Successfully retrieved snapshots",
			list(3, "createTime,description,id,name,quiesced,state", equal(0, "name", "snap-0"), equal(2, "name", "snap-2"), equal(1, "quiesced", "True"), equal(0, "quiesced", "False"), equal(2, "state", "poweredOff"), equal(2, "description", "level 2"))},
		{vpoller.Request{Method: "vm.cpu.usage.percent", Name: guestVM}, okProps,
			list(1, "name,vm.cpu.usage.percent", equal(0, "vm.cpu.usage.percent", 500.0*1048576/float64(hz*1*1)*100))},
		{vpoller.Request{Method: "vm.cpu.usage.pct", Name: guestVM}, okProps,
			list(1, "name,vm.cpu.usage.pct", equal(0, "vm.cpu.usage.pct", math.Round(500/(float64(hz)/1e6)*100*100)/100))},

		{vpoller.Request{Method: "datastore.discover"}, okDisc, list(1, "name")},
		{vpoller.Request{Method: "datastore.get", Name: url, Properties: []string{"summary.type"}}, okObjects, list(1, "name,info.url,summary.type")},
		{vpoller.Request{Method: "datastore.alarm.get", Name: url}, "Successfully retrieved alarms", list(0, "")},
		{vpoller.Request{Method: "datastore.host.get", Name: url}, okDisc, list(inv.Hosts, "name")},
		{vpoller.Request{Method: "datastore.vm.get", Name: url}, okDisc, list(inv.VMs, "name")},
		{vpoller.Request{Method: "datastore.perf.metric.info", Name: url}, "Successfully retrieved performance metrics", list(-1, "counterId,instance")},
		{vpoller.Request{Method: "datastore.perf.metric.get", Name: url, CounterName: "disk.used.kiloBytes.latest", PerfInterval: "Past Day"}, "Successfully retrieved performance metrics",
			list(1, "interval,timestamp,counterId,instance,value")},
		{vpoller.Request{Method: "datastore.perf.hosts.get", Name: url, CounterName: "datastore.numberWriteAveraged.number.average"},
			"Successfully retrieved performance metrics", list(1, "counterId,instance,hosts,value", equal(0, "hosts", int64(inv.Hosts)))},

		// datastore clusters and distributed switches
		{vpoller.Request{Method: "datastore.cluster.discover"}, okDisc, list(1, "name", equal(0, "name", "DC0_POD0"))},
		{vpoller.Request{Method: "datastore.cluster.get", Name: "DC0_POD0", Properties: []string{"podStorageDrsEntry.storageDrsConfig.podConfig.enabled"}}, okObjects,
			list(1, "name,podStorageDrsEntry.storageDrsConfig.podConfig.enabled", equal(0, "podStorageDrsEntry.storageDrsConfig.podConfig.enabled", true))},
		{vpoller.Request{Method: "datastore.cluster.datastore.get", Name: "DC0_POD0"}, okDisc,
			list(1, "name,info.url", equal(0, "name", "LocalDS_0"), equal(0, "info.url", url))},
		{vpoller.Request{Method: "dvswitch.discover"}, okDisc, list(1, "name", equal(0, "name", "DVS0"))},
		{vpoller.Request{Method: "dvswitch.get", Name: "DVS0", Properties: []string{"uuid"}}, okObjects, list(1, "name,uuid", equal(0, "uuid", dvsUUID))},
		{vpoller.Request{Method: "dvswitch.port.get", Name: "DVS0", Key: "DC0_DVPG0"}, msgPorts,
			list(1, "key,portgroup,connectee,connecteeType,linkUp,blocked", equal(0, "key", "0"), equal(0, "portgroup", "DC0_DVPG0"), equal(0, "connectee", nil))},

		{vpoller.Request{Method: "tag.discover"}, "Successfully discovered tags",
			list(1, "category,tag,description,objects", equal(0, "category", "Env"), equal(0, "tag", "prod"), equal(0, "objects", int64(4)))},
		{vpoller.Request{Method: "vm.tag.get", Name: guestVM}, "Successfully retrieved tags",
			list(1, "category,tag,description", equal(0, "tag", "prod"), equal(0, "description", "Production"))},
		{vpoller.Request{Method: "host.tag.get", Name: "DC0_H0"}, "Successfully retrieved tags", list(1, "category,tag,description", equal(0, "category", "Env"))},
		{vpoller.Request{Method: "datastore.tag.get", Name: url}, "Successfully retrieved tags", list(1, "category,tag,description", equal(0, "tag", "prod"))},
		{vpoller.Request{Method: "cluster.tag.get", Name: "DC0_C0"}, "Successfully retrieved tags", list(1, "category,tag,description", equal(0, "tag", "prod"))},
		{vpoller.Request{Method: "vm.attribute.get", Name: guestVM}, "Successfully retrieved custom attributes", list(1, "Owner", equal(0, "Owner", "alice"))},
		{vpoller.Request{Method: "host.attribute.get", Name: "DC0_H0", Properties: []string{"Rack"}}, "Successfully retrieved custom attributes",
			list(1, "Rack", equal(0, "Rack", "r12"))},

		// license, certificate, appliance and vSAN methods (snapshotmethods_test.go has the full replies)
		{vpoller.Request{Method: "license.discover"}, msgLicenses,
			list(2, "key,name,editionKey,productName,costUnit,total,used,expirationDate", equal(1, "key", simLicenseMask), equal(1, "used", int64(6)),
				equal(1, "expirationDate", simLicenseExpiry.Unix()))},
		{vpoller.Request{Method: "host.license.get", Name: simLicenseHost}, msgLicenses,
			list(1, "name,key,licenseName,editionKey,expirationDate", equal(0, "key", simLicenseMask), equal(0, "editionKey", simLicenseEdit))},
		{vpoller.Request{Method: "host.certificate.get", Name: simCertHost}, msgCertificate,
			list(1, "name,subject,issuer,notBefore,notAfter,daysLeft,sha256", equal(0, "notAfter", simCertNotAfter.Unix()))},
		{vpoller.Request{Method: "vcenter.certificate.get"}, msgCertificate,
			list(1, "name,subject,issuer,notBefore,notAfter,daysLeft,sha256", equal(0, "name", "sim"), equal(0, "notAfter", a.Simulator().Server().Certificate().NotAfter.Unix()))},
		{vpoller.Request{Method: "appliance.health.get"}, msgAppliance,
			list(1, "system,load,mem,storage,database,swap,services,servicesStopped,servicesUnhealthy,backupStatus,backupType,backupTime",
				equal(0, "system", "orange"), equal(0, "swap", "red"), equal(0, "servicesStopped", int64(1)), equal(0, "backupStatus", "FAILED"))},
		{vpoller.Request{Method: "appliance.service.discover"}, msgAppliance,
			list(4, "service,nameKey,startupType,state,health", equal(1, "service", "vpxd"), equal(2, "state", "STOPPED"))},
		{vpoller.Request{Method: "vsan.cluster.discover"}, okDisc, list(1, "name,moref", equal(0, "name", simVsanCluster))},
		{vpoller.Request{Method: "vsan.cluster.get", Name: simVsanCluster}, msgVsan,
			list(1, "name,health,healthDescription,totalCapacity,freeCapacity,usedCapacity,resyncBytes,resyncObjects,resyncETA",
				equal(0, "health", "yellow"), equal(0, "freeCapacity", simVsanFree), equal(0, "resyncBytes", simResyncBytes))},
		// storage path, service and backup methods (paths_test.go,
		// hostservices_test.go and backup_test.go give the simulator
		// more states).
		{vpoller.Request{Method: "host.path.discover", Name: "DC0_H0"}, okDisc,
			list(2, "lun,displayName,policy,paths,active,standby,disabled,dead,unknown,states", equal(0, "lun", "mpx.vmhba0:C0:T0:L0"),
				equal(0, "policy", "VMW_PSP_FIXED"), equal(0, "paths", int64(1)), equal(0, "active", int64(1)), equal(0, "dead", int64(0)),
				equal(0, "states", "vmhba0:C0:T0:L0=active"), equal(1, "lun", "mpx.vmhba1:C0:T0:L0"), equal(1, "states", "vmhba1:C0:T0:L0=active"))},
		{vpoller.Request{Method: "host.service.get", Name: "DC0_H0", Key: "TSM-SSH"}, okProps,
			list(1, "key,label,running,policy,required", equal(0, "label", "SSH"), equal(0, "running", false), equal(0, "policy", "off"))},
		{vpoller.Request{Method: "host.ntp.get", Name: "DC0_H0"}, okProps,
			list(1, "name,ntpConfigured,ntpServers,ntpRunning,ntpPolicy,timeZone", equal(0, "ntpConfigured", false), equal(0, "ntpServers", ""),
				equal(0, "ntpRunning", false), equal(0, "ntpPolicy", "off"))},
		{vpoller.Request{Method: "vm.backup.get", Name: guestVM, Key: "Owner"}, "Successfully retrieved backup information",
			list(1, "name,changeTrackingEnabled,snapshots,snapshotSize,backupAttribute,backupValue,lastBackup,backupAge",
				equal(0, "changeTrackingEnabled", false), equal(0, "snapshots", int64(3)), equal(0, "snapshotSize", int64(0)),
				equal(0, "backupValue", "alice"), equal(0, "lastBackup", int64(0)), equal(0, "backupAge", int64(-1)))},
		{vpoller.Request{Method: "datastore.space.get", Name: url}, okProps,
			list(1, "name,capacity,freeSpace,uncommitted,used,provisioned,usedPct,provisionedPct", equal(0, "name", "LocalDS_0"),
				equal(0, "capacity", dsCap), equal(0, "freeSpace", dsFree), equal(0, "used", dsCap-dsFree), equal(0, "provisioned", dsCap-dsFree+dsUnc),
				equal(0, "provisionedPct", math.Round(float64(dsCap-dsFree+dsUnc)/float64(dsCap)*10000)/100))},
	}
	done := map[string]bool{}
	for _, tc := range tests {
		done[tc.req.Method] = true
		t.Run(tc.req.Method, func(t *testing.T) {
			r := exec(t, s, tc.req)
			if r.Success != 0 || r.Msg != tc.msg {
				t.Fatalf("reply %s; want success 0, msg %q", r.Encode(vpoller.Python), tc.msg)
			}
			// docs/methods.md's message cell (the row's Doc) says the same.
			if mi, _ := vpoller.Method(tc.req.Method); mi.Doc.Message != tc.msg && !strings.HasPrefix(mi.Doc.Message, tc.msg+";") {
				t.Errorf("the catalogue row documents the message %q, the reply says %q", mi.Doc.Message, tc.msg)
			}
			tc.check(t, r.Result)
		})
	}
	// vsan.health.get: the simulator has no vSAN system: a clear error.
	done["vsan.health.get"] = true
	r := exec(t, s, vpoller.Request{Method: "vsan.health.get", Name: "DC0_H0"})
	if r.Success != 1 || !strings.HasPrefix(r.Msg, "Cannot query vSAN status of host DC0_H0: ") {
		t.Errorf("vsan.health.get: %s", r.Encode(vpoller.Python))
	}
	// host.time.get: the simulator has no HostDateTimeSystem: a clear error.
	done["host.time.get"] = true
	r = exec(t, s, vpoller.Request{Method: "host.time.get", Name: "DC0_H0"})
	if r.Success != 1 || !strings.HasPrefix(r.Msg, "Cannot query the time of host DC0_H0: ") {
		t.Errorf("host.time.get: %s", r.Encode(vpoller.Python))
	}
	var missing []string
	for _, m := range vpoller.Methods() {
		if !done[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		t.Errorf("methods not exercised: %v", missing)
	}
	if u := Unbound(); len(u) > 0 {
		t.Errorf("catalogue methods without a handler in registry.go: %v", u)
	}
}

// Every entry of the registry binds a catalogue row: a handler of no row
// would never run (Execute answers "Unknown or missing task/method name").
func TestHandlersAreCatalogued(t *testing.T) {
	for m := range handlers {
		if _, ok := vpoller.Method(m); !ok {
			t.Errorf("handlers has %s, which is no catalogue method", m)
		}
	}
}
