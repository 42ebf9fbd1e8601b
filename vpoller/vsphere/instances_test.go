package vsphere

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	govobj "github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// The simulator's VMs have one ParaVirtual SCSI controller (key 202,
// bus 0) with one 10 GiB disk at unit 0 ("disk-202-0"), two IDE
// controllers (200, 201) and one E1000 NIC (key 4000, "ethernet-0") on
// the distributed portgroup DC0_DVPG0. Its hosts have two physical NICs
// (vmnic0, vmnic1, 10 Gb/s, nvmxnet3) and two SCSI LUNs: a 32 GiB disk
// mpx.vmhba0:C0:T0:L0 (vendor "VMware, " with a trailing blank) and a
// CD-ROM. The tests below add what the stock inventory lacks: through
// govmomi, as another vSphere user would (disks on SATA, NVMe and IDE
// controllers, a second NIC, a second datastore; a VM stripped of its NIC
// and disk), and server-side (simInstances) what only an ESXi host
// reports (its physical NICs and LUNs).
const (
	instStockVM   = "DC0_H0_VM0"     // untouched
	instRichVM    = "DC0_H0_VM1"     // more disks and a second NIC
	instBareVM    = "DC0_C0_RP0_VM0" // its NIC and disk removed
	instStockHost = "DC0_H0"         // stock NICs and LUNs, a second datastore
	instHost      = "DC0_C0_H0"      // simInstances' NICs and LUNs
)

// simInstances gives instHost physical NICs out of order, one with its
// link down, and LUNs of several kinds: HPE and local disks, a CD-ROM
// (left out) and a LUN of type disk that is no HostScsiDisk (capacity 0).
func simInstances(m *simulator.Model) {
	for _, e := range m.Map().All("HostSystem") {
		h := e.(*simulator.HostSystem)
		if h.Name != instHost {
			continue
		}
		network := *h.Config.Network
		network.Pnic = []types.PhysicalNic{
			{Key: "key-vim.host.PhysicalNic-vmnic10", Device: "vmnic10", Driver: "ixgben", Mac: "3c:fd:fe:00:00:10",
				LinkSpeed: &types.PhysicalNicLinkInfo{SpeedMb: 25000, Duplex: true}},
			{Key: "key-vim.host.PhysicalNic-vmnic2", Device: "vmnic2", Driver: "ntg3", Mac: "3c:fd:fe:00:00:02"}, // link down
			{Key: "key-vim.host.PhysicalNic-vmnic0", Device: "vmnic0", Driver: "ntg3", Mac: "3c:fd:fe:00:00:00",
				LinkSpeed: &types.PhysicalNicLinkInfo{SpeedMb: 1000, Duplex: true}},
		}
		storage := *h.Config.StorageDevice
		disk := func(name, vendor, model string, blocks int64, size int32) *types.HostScsiDisk {
			return &types.HostScsiDisk{ScsiLun: types.ScsiLun{Key: "key-vim.host.ScsiDisk-" + name, Uuid: name, CanonicalName: name,
				DisplayName: "Disk (" + name + ")", LunType: "disk", Vendor: vendor, Model: model},
				Capacity: types.HostDiskDimensionsLba{Block: blocks, BlockSize: size}}
		}
		storage.ScsiLun = []types.BaseScsiLun{
			disk("naa.600508b1001c6d4b6a2b7cf1e3e4a5b6", "HPE     ", "LOGICAL VOLUME  ", 1953525168, 512),
			disk("mpx.vmhba0:C0:T10:L0", "ATA     ", "Samsung SSD 870 ", 250069680, 512),
			&types.ScsiLun{Key: "key-vim.host.ScsiLun-cd", CanonicalName: "mpx.vmhba1:C0:T0:L0", DisplayName: "CD-ROM", LunType: "cdrom",
				Vendor: "NECVMWar", Model: "VMware IDE CDR00"},
			disk("mpx.vmhba0:C0:T2:L0", "VMware, ", "Virtual disk", 16777216, 4096),
			&types.ScsiLun{Key: "key-vim.host.ScsiLun-t10", CanonicalName: "t10.NVMe____Plain", DisplayName: "Plain", LunType: "disk",
				Vendor: " NVMe ", Model: " Plain "},
		}
		config := *h.Config
		config.Network, config.StorageDevice = &network, &storage
		h.Config = &config
	}
}

// shapeInstances changes the inventory through the vSphere API: instRichVM
// gets a SATA (AHCI) and an NVMe controller, a disk on each, one on IDE
// bus 0 and a second one on its SCSI controller, and a second NIC on "VM
// Network"; instBareVM loses its NIC and its disk; instStockHost mounts a second
// datastore. It returns the second datastore's directory.
func shapeInstances(t *testing.T, a *Agent) string {
	t.Helper()
	ctx := context.Background()
	c := admin(t, a)
	vm := govobj.NewVirtualMachine(c.Client, lookup(t, a, objects.VM, instRichVM))
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sata, err := devs.CreateSATAController()
	if err != nil {
		t.Fatal(err)
	}
	nvme, err := devs.CreateNVMEController()
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.AddDevice(ctx, sata, nvme); err != nil {
		t.Fatal(err)
	}
	if devs, err = vm.Device(ctx); err != nil {
		t.Fatal(err)
	}
	ds := lookup(t, a, objects.Datastore, "LocalDS_0")
	var disks []types.BaseVirtualDevice
	for _, bus := range []string{"sata", "nvme", "ide", "scsi"} {
		ctl, err := devs.FindDiskController(bus)
		if err != nil {
			t.Fatal(bus, err)
		}
		d := devs.CreateDisk(ctl, ds, fmt.Sprintf("[LocalDS_0] %s/%s.vmdk", instRichVM, bus))
		d.CapacityInKB = 1024 * 1024 // 1 GiB; vCenter also sets CapacityInBytes, the simulator leaves it 0
		disks = append(disks, d)
		devs = append(devs, d) // the next disk on this controller takes the next unit
	}
	nic, err := devs.CreateEthernetCard("vmxnet3", &types.VirtualEthernetCardNetworkBackingInfo{
		VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.AddDevice(ctx, append(disks, nic)...); err != nil {
		t.Fatal(err)
	}

	bare := govobj.NewVirtualMachine(c.Client, lookup(t, a, objects.VM, instBareVM))
	if devs, err = bare.Device(ctx); err != nil {
		t.Fatal(err)
	}
	gone := append(devs.SelectByType((*types.VirtualEthernetCard)(nil)), devs.SelectByType((*types.VirtualDisk)(nil))...)
	if len(gone) != 2 {
		t.Fatalf("%s has %d NICs and disks, want 2", instBareVM, len(gone))
	}
	if err := bare.RemoveDevice(ctx, true, gone...); err != nil {
		t.Fatal(err)
	}

	host := govobj.NewHostSystem(c.Client, lookup(t, a, objects.Host, instStockHost))
	dss, err := host.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := dss.CreateLocalDatastore(ctx, "DS_extra", dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nicsOf reads a VM's NICs through govmomi (the expected values: what
// the vSphere API itself reports).
func nicsOf(t *testing.T, a *Agent, vm string) []*types.VirtualEthernetCard {
	t.Helper()
	devs, err := govobj.NewVirtualMachine(admin(t, a).Client, lookup(t, a, objects.VM, vm)).Device(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*types.VirtualEthernetCard
	for _, d := range devs.SelectByType((*types.VirtualEthernetCard)(nil)) {
		out = append(out, d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard())
	}
	return out
}

// TestInstanceDiscovery: the five discoveries' exact replies, with the
// mirror (each property joins it on first read) and without it (every
// read a RetrievePropertiesEx, values decoded from SOAP).
func TestInstanceDiscovery(t *testing.T) {
	t.Parallel()
	t.Run("mirror", func(t *testing.T) { testInstanceDiscovery(t, Options{}) })
	t.Run("direct", func(t *testing.T) { testInstanceDiscovery(t, direct) })
}

func testInstanceDiscovery(t *testing.T, opts Options) {
	s := newSim(t, opts, simInstances)
	a := agent(t, s)
	extraDir := shapeInstances(t, a)
	ctx := context.Background()

	stockNIC := nicsOf(t, a, instStockVM)[0]
	richNICs := nicsOf(t, a, instRichVM)
	if len(richNICs) != 2 {
		t.Fatalf("%s has %d NICs, want 2", instRichVM, len(richNICs))
	}
	if richNICs[0].Key > richNICs[1].Key {
		richNICs[0], richNICs[1] = richNICs[1], richNICs[0]
	}
	dvpg := lookup(t, a, objects.Network, "DC0_DVPG0").Value
	nicJSON := func(n *types.VirtualEthernetCard, label, network string) string {
		return fmt.Sprintf(`{"instance": "%d", "label": "%s", "macAddress": "%s", "network": "%s", "connected": true}`, n.Key, label, n.MacAddress, network)
	}
	var richNICJSON []string // in device key order
	for _, n := range richNICs {
		if n.Key == 4000 { // the simulator's own
			richNICJSON = append(richNICJSON, nicJSON(n, "ethernet-0", dvpg))
		} else { // shapeInstances' on "VM Network", labelled by the simulator
			richNICJSON = append(richNICJSON, nicJSON(n, n.DeviceInfo.GetDescription().Label, "VM Network"))
		}
	}

	dsURL := func(name string) string {
		r := exec(t, s, vpoller.Request{Method: "datastore.discover", Properties: []string{"info.url"}})
		for _, x := range r.Result.([]any) {
			if field(x, "name") == name {
				return field(x, "info.url").(string)
			}
		}
		t.Fatalf("no datastore %s", name)
		return ""
	}
	var localURL string
	eventually(t, 5*time.Second, "DS_extra discovered", func() bool {
		r := exec(t, s, vpoller.Request{Method: "datastore.discover"})
		return len(names(t, r)) == 2
	})
	localURL = dsURL("LocalDS_0")
	extraURL := dsURL("DS_extra")
	if extraURL != extraDir {
		t.Fatalf("DS_extra's url %q, want its directory %q", extraURL, extraDir)
	}

	vmRef := lookup(t, a, objects.VM, instStockVM)
	vmx := func(vm, file string) string { return "[LocalDS_0] " + vm + "/" + file }
	for _, tc := range []struct {
		req  vpoller.Request
		want string
	}{
		// The stock VM: one disk on ParaVirtual SCSI bus 0, unit 0; one NIC.
		{vpoller.Request{Method: "vm.vdisk.discover", Name: instStockVM},
			`[{"instance": "scsi0:0", "label": "disk-202-0", "capacity": 10737418240, "fileName": "` + vmx(instStockVM, "disk1.vmdk") + `"}]`},
		{vpoller.Request{Method: "vm.vnic.discover", Name: instStockVM}, `[` + nicJSON(stockNIC, "ethernet-0", dvpg) + `]`},
		// Looked up by managed object id, as every method.
		{vpoller.Request{Method: "vm.vdisk.discover", Name: vmRef.Value},
			`[{"instance": "scsi0:0", "label": "disk-202-0", "capacity": 10737418240, "fileName": "` + vmx(instStockVM, "disk1.vmdk") + `"}]`},
		// Disks on four bus types, sorted by bus type, then bus and unit
		// (the capacity from capacityInKB when capacityInBytes is unset).
		{vpoller.Request{Method: "vm.vdisk.discover", Name: instRichVM}, `[` +
			`{"instance": "ide0:0", "label": "disk-200-0", "capacity": 1073741824, "fileName": "` + vmx(instRichVM, "ide.vmdk") + `"}, ` +
			`{"instance": "nvme0:0", "label": "disk-206-0", "capacity": 1073741824, "fileName": "` + vmx(instRichVM, "nvme.vmdk") + `"}, ` +
			`{"instance": "sata0:0", "label": "disk-205-0", "capacity": 1073741824, "fileName": "` + vmx(instRichVM, "sata.vmdk") + `"}, ` +
			`{"instance": "scsi0:0", "label": "disk-202-0", "capacity": 10737418240, "fileName": "` + vmx(instRichVM, "disk1.vmdk") + `"}, ` +
			`{"instance": "scsi0:1", "label": "disk-202-1", "capacity": 1073741824, "fileName": "` + vmx(instRichVM, "scsi.vmdk") + `"}]`},
		// Two NICs in device key order: a distributed port names its
		// portgroup key, a standard one its network.
		{vpoller.Request{Method: "vm.vnic.discover", Name: instRichVM},
			`[` + strings.Join(richNICJSON, ", ") + `]`},
		// Neither NIC nor disk: empty lists.
		{vpoller.Request{Method: "vm.vdisk.discover", Name: instBareVM}, `[]`},
		{vpoller.Request{Method: "vm.vnic.discover", Name: instBareVM}, `[]`},

		{vpoller.Request{Method: "host.pnic.discover", Name: instStockHost},
			`[{"instance": "vmnic0", "mac": "00:0c:29:81:d8:a0", "driver": "nvmxnet3", "linkSpeed": 10000}, ` +
				`{"instance": "vmnic1", "mac": "00:0c:29:81:d8:aa", "driver": "nvmxnet3", "linkSpeed": 10000}]`},
		// Numbers in names sort as numbers; a link down is speed 0.
		{vpoller.Request{Method: "host.pnic.discover", Name: instHost},
			`[{"instance": "vmnic0", "mac": "3c:fd:fe:00:00:00", "driver": "ntg3", "linkSpeed": 1000}, ` +
				`{"instance": "vmnic2", "mac": "3c:fd:fe:00:00:02", "driver": "ntg3", "linkSpeed": 0}, ` +
				`{"instance": "vmnic10", "mac": "3c:fd:fe:00:00:10", "driver": "ixgben", "linkSpeed": 25000}]`},

		// Sorted by name; the instance is the URL's last element.
		{vpoller.Request{Method: "host.datastore.discover", Name: instStockHost}, `[` +
			`{"instance": "` + filepath.Base(extraDir) + `", "name": "DS_extra", "url": "` + extraURL + `", "moref": "` + lookup(t, a, objects.Datastore, extraURL).Value + `"}, ` +
			`{"instance": "DC0-LocalDS_0", "name": "LocalDS_0", "url": "` + localURL + `", "moref": "` + lookup(t, a, objects.Datastore, localURL).Value + `"}]`},
		{vpoller.Request{Method: "host.datastore.discover", Name: instHost},
			`[{"instance": "DC0-LocalDS_0", "name": "LocalDS_0", "url": "` + localURL + `", "moref": "` + lookup(t, a, objects.Datastore, localURL).Value + `"}]`},

		// The stock disk (the CD-ROM is left out); vendor trimmed.
		{vpoller.Request{Method: "host.lun.discover", Name: instStockHost},
			`[{"instance": "mpx.vmhba0:C0:T0:L0", "displayName": "Local VMware, Disk (mpx.vmhba0:C0:T0:L0)", "vendor": "VMware,", "model": "VMware Virtual S", "capacity": 34359738368}]`},
		{vpoller.Request{Method: "host.lun.discover", Name: instHost}, `[` +
			`{"instance": "mpx.vmhba0:C0:T2:L0", "displayName": "Disk (mpx.vmhba0:C0:T2:L0)", "vendor": "VMware,", "model": "Virtual disk", "capacity": 68719476736}, ` +
			`{"instance": "mpx.vmhba0:C0:T10:L0", "displayName": "Disk (mpx.vmhba0:C0:T10:L0)", "vendor": "ATA", "model": "Samsung SSD 870", "capacity": 128035676160}, ` +
			`{"instance": "naa.600508b1001c6d4b6a2b7cf1e3e4a5b6", "displayName": "Disk (naa.600508b1001c6d4b6a2b7cf1e3e4a5b6)", "vendor": "HPE", "model": "LOGICAL VOLUME", "capacity": 1000204886016}, ` +
			`{"instance": "t10.NVMe____Plain", "displayName": "Plain", "vendor": "NVMe", "model": "Plain", "capacity": 0}]`},
	} {
		t.Run(tc.req.Method+" "+tc.req.Name, func(t *testing.T) {
			r := exec(t, s, tc.req)
			if r.Msg != msgDiscovered {
				t.Errorf("msg %q", r.Msg)
			}
			if got := encoded(t, r); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}

	// Unknown objects, objects of the other kind and missing names fail
	// as every lookup does.
	for _, m := range []string{"vm.vdisk.discover", "vm.vnic.discover", "host.pnic.discover", "host.datastore.discover", "host.lun.discover"} {
		other := instStockHost
		if strings.HasPrefix(m, "host.") {
			other = instStockVM
		}
		for _, tc := range []struct{ name, msg string }{
			{"nope", "Cannot find object nope"},
			{other, "Cannot find object " + other},
			{"", vpoller.MsgInvalidTask},
		} {
			r := s.Execute(ctx, &vpoller.Request{Hostname: "sim", Method: m, Name: tc.name})
			if r.Success != 1 || r.Msg != tc.msg || r.Result != nil {
				t.Errorf("%s %q: %s, want failure %q", m, tc.name, r.Encode(vpoller.Python), tc.msg)
			}
		}
	}
}

// TestInstanceDiscoveryFromTheMirror: config.hardware.device is not
// watched from the start (the VM's default watch set stays 3 index + 24
// paths); each discovery's first request reads its property from
// vCenter, which then joins the mirror, and a second request costs no
// SOAP call. A disk added later reaches vm.vdisk.discover through the
// mirror, with no RetrievePropertiesEx.
func TestInstanceDiscoveryFromTheMirror(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simInstances)
	a := agent(t, s)
	watched := func(typ string) int { return s.Stats().Agents["sim"].Objects.Mirror.WatchedPaths[typ] }
	if got := watched("VirtualMachine"); got != 3+31 {
		t.Fatalf("%d VM paths watched at start, want 34", got)
	}
	for _, tc := range []struct {
		req  vpoller.Request
		typ  string
		adds int // paths joining the mirror
	}{
		{vpoller.Request{Method: "vm.vdisk.discover", Name: instStockVM}, "VirtualMachine", 1},
		{vpoller.Request{Method: "vm.vnic.discover", Name: instStockVM}, "VirtualMachine", 0}, // the same path
		{vpoller.Request{Method: "host.pnic.discover", Name: instHost}, "HostSystem", 1},
		{vpoller.Request{Method: "host.lun.discover", Name: instHost}, "HostSystem", 1},
		{vpoller.Request{Method: "host.datastore.discover", Name: instHost}, "HostSystem", 1},
	} {
		t.Run(tc.req.Method, func(t *testing.T) {
			start := watched(tc.typ)
			before := s.Stats()
			first := encoded(t, exec(t, s, tc.req))
			if _, by := calls(before, s.Stats()); tc.adds > 0 && by["RetrievePropertiesEx"] == 0 {
				t.Errorf("first request: %v, want a RetrievePropertiesEx", by)
			}
			eventually(t, 10*time.Second, "path joined", func() bool { return watched(tc.typ) == start+tc.adds })
			// A join syncs a new filter, then tears the old one down (calls
			// no request makes): wait until the mirror is done with both.
			eventually(t, 10*time.Second, "mirror settled", func() bool {
				m := s.Stats().Agents["sim"].Objects.Mirror
				return m.State == "current" && m.Retired >= m.Syncs-1
			})
			before = s.Stats()
			second := encoded(t, exec(t, s, tc.req))
			if n, by := calls(before, s.Stats()); n != 0 {
				t.Errorf("second request: %d SOAP calls %v, want 0", n, by)
			}
			if second != first {
				t.Errorf("from the mirror %s, from vCenter %s", second, first)
			}
		})
	}

	// A disk added by another user shows from the mirror.
	c := admin(t, a)
	vm := govobj.NewVirtualMachine(c.Client, lookup(t, a, objects.VM, instStockVM))
	devs, err := vm.Device(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := devs.FindDiskController("scsi")
	if err != nil {
		t.Fatal(err)
	}
	d := devs.CreateDisk(ctl, lookup(t, a, objects.Datastore, "LocalDS_0"), "[LocalDS_0] "+instStockVM+"/second.vmdk")
	d.CapacityInKB = 2048
	before := s.Stats()
	if err := vm.AddDevice(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "second disk", func() bool {
		r := exec(t, s, vpoller.Request{Method: "vm.vdisk.discover", Name: instStockVM})
		return len(r.Result.([]any)) == 2
	})
	r := exec(t, s, vpoller.Request{Method: "vm.vdisk.discover", Name: instStockVM})
	if got := pyJSON(t, r.Result.([]any)[1]); got != `{"instance": "scsi0:1", "label": "disk-202-1", "capacity": 2097152, "fileName": "[LocalDS_0] DC0_H0_VM0/second.vmdk"}` {
		t.Errorf("second disk: %s", got)
	}
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 0 {
		t.Errorf("reads of the watched devices went to vCenter: %v", by)
	}
	// And as Zabbix LLD.
	d2, err := lld.Discovery(&vpoller.Request{Method: "vm.vdisk.discover"}, r, vpoller.Compact)
	if err != nil || !strings.Contains(string(d2), `{"{#VSPHERE.VM.VDISK.INSTANCE}":"scsi0:1","{#VSPHERE.VM.VDISK.LABEL}":"disk-202-1","{#VSPHERE.VM.VDISK.CAPACITY}":2097152,`) {
		t.Errorf("LLD: %s, %v", d2, err)
	}
}

// TestVirtualDisks: controllers of every bus type, and the disks left
// out (no unit number, an unknown or missing controller), from device
// lists as vSphere gives them.
func TestVirtualDisks(t *testing.T) {
	t.Parallel()
	unit := func(n int32) *int32 { return &n }
	dev := func(key int32) types.VirtualDevice { return types.VirtualDevice{Key: key} }
	ctl := func(key, bus int32) types.VirtualController {
		return types.VirtualController{VirtualDevice: dev(key), BusNumber: bus}
	}
	scsi := func(key, bus int32) types.VirtualSCSIController {
		return types.VirtualSCSIController{VirtualController: ctl(key, bus)}
	}
	disk := func(key, controller int32, u *int32, kb, bytes int64, backing types.BaseVirtualDeviceBackingInfo) *types.VirtualDisk {
		d := &types.VirtualDisk{VirtualDevice: dev(key), CapacityInKB: kb, CapacityInBytes: bytes}
		d.ControllerKey, d.UnitNumber, d.Backing = controller, u, backing
		d.DeviceInfo = &types.Description{Label: fmt.Sprintf("Hard disk %d", key)}
		return d
	}
	file := func(name string) types.BaseVirtualDeviceBackingInfo {
		return &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: name}}
	}
	rdm := &types.VirtualDiskRawDiskVer2BackingInfo{DescriptorFileName: "x", VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "/vmfs/devices/disks/naa.1"}}
	for _, tc := range []struct {
		name    string
		devices []types.BaseVirtualDevice
		want    []string // instance label capacity fileName
	}{
		{"every scsi controller", []types.BaseVirtualDevice{
			&types.ParaVirtualSCSIController{VirtualSCSIController: scsi(1000, 0)},
			&types.VirtualLsiLogicController{VirtualSCSIController: scsi(1001, 1)},
			&types.VirtualLsiLogicSASController{VirtualSCSIController: scsi(1002, 2)},
			&types.VirtualBusLogicController{VirtualSCSIController: scsi(1003, 3)},
			disk(2003, 1003, unit(0), 1, 0, file("[ds] d")),
			disk(2002, 1002, unit(0), 1, 0, file("[ds] c")),
			disk(2001, 1001, unit(0), 1, 0, file("[ds] b")),
			disk(2000, 1000, unit(0), 1, 0, file("[ds] a")),
		}, []string{"scsi0:0 Hard disk 2000 1024 [ds] a", "scsi1:0 Hard disk 2001 1024 [ds] b", "scsi2:0 Hard disk 2002 1024 [ds] c", "scsi3:0 Hard disk 2003 1024 [ds] d"}},
		{"ide, sata, nvme; units as numbers", []types.BaseVirtualDevice{
			&types.VirtualIDEController{VirtualController: ctl(201, 1)},
			&types.VirtualAHCIController{VirtualSATAController: types.VirtualSATAController{VirtualController: ctl(15000, 0)}},
			&types.VirtualNVMEController{VirtualController: ctl(31000, 0)},
			disk(3, 31000, unit(10), 0, 5, file("[ds] n10")),
			disk(2, 31000, unit(2), 0, 4, file("[ds] n2")),
			disk(1, 15000, unit(0), 0, 3, file("[ds] s")),
			disk(4, 201, unit(1), 0, 2, file("[ds] i")),
		}, []string{"ide1:1 Hard disk 4 2 [ds] i", "nvme0:2 Hard disk 2 4 [ds] n2", "nvme0:10 Hard disk 3 5 [ds] n10", "sata0:0 Hard disk 1 3 [ds] s"}},
		{"bytes win over KB; a raw disk has no file", []types.BaseVirtualDevice{
			&types.ParaVirtualSCSIController{VirtualSCSIController: scsi(1000, 0)},
			disk(1, 1000, unit(1), 2, 4096, rdm),
			disk(2, 1000, unit(0), 3, 0, nil),
		}, []string{"scsi0:0 Hard disk 2 3072 ", "scsi0:1 Hard disk 1 4096 "}},
		{"left out: no unit, unknown or missing controller", []types.BaseVirtualDevice{
			&types.VirtualUSBController{VirtualController: ctl(7000, 0)},
			&types.ParaVirtualSCSIController{VirtualSCSIController: scsi(1000, 0)},
			disk(1, 7000, unit(0), 1, 0, nil),
			disk(2, 9999, unit(0), 1, 0, nil),
			disk(3, 1000, nil, 1, 0, nil),
		}, nil},
		{"no devices", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range virtualDisks(tc.devices) {
				got = append(got, fmt.Sprintf("%s %s %d %s", d.instance(), d.label, d.capacity, d.fileName))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestDatastoreUUID: the instance of a host's datastore.* counters.
func TestDatastoreUUID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"ds:///vmfs/volumes/5a3b4c5d-e6f7a8b9-0c1d-001122334455/", "5a3b4c5d-e6f7a8b9-0c1d-001122334455"},
		{"ds:///vmfs/volumes/5a3b4c5d-e6f7a8b9-0c1d-001122334455", "5a3b4c5d-e6f7a8b9-0c1d-001122334455"},
		{"ds:///vmfs/volumes/vsan:52a1b2c3d4e5f607-8192a3b4c5d6e7f8/", "vsan:52a1b2c3d4e5f607-8192a3b4c5d6e7f8"},
		{"/tmp/govcsim-1/DC0-LocalDS_0", "DC0-LocalDS_0"},
		{"ds:///", "ds:"},
		{"", ""},
		{"///", ""},
	} {
		if got := datastoreUUID(tc.url); got != tc.want {
			t.Errorf("datastoreUUID(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

// TestCompareInstances: digit runs compare as numbers, the rest byte by
// byte, ties broken by bytes (a total order).
func TestCompareInstances(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		x, y string
		want int
	}{
		{"vmnic2", "vmnic10", -1},
		{"vmnic10", "vmnic2", 1},
		{"vmnic1", "vmnic1", 0},
		{"mpx.vmhba0:C0:T2:L0", "mpx.vmhba0:C0:T10:L0", -1},
		{"mpx.vmhba32:C0:T0:L0", "naa.600", -1},
		{"naa.600", "naa.6000", -1},
		{"vmnic01", "vmnic1", -1}, // equal as numbers: bytes decide
		{"vmnic1", "vmnic01", 1},
		{"a", "a0", -1},
		{"", "a", -1},
		{"9", "a", -1},
		{"a", "9", 1},
		{"x99999999999999999999999", "x100000000000000000000000", -1}, // beyond int64
	} {
		if got := compareInstances(tc.x, tc.y); got != tc.want {
			t.Errorf("compareInstances(%q, %q) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
}
