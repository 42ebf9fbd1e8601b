package vsphere

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Performance-counter instances (ours: the original has none of these).
// vSphere keeps per-disk, per-NIC, per-datastore and per-LUN counters
// under an instance string that nothing in the inventory names directly:
// a VM's virtualDisk.* counters use "scsi0:1", its net.* counters the
// virtual NIC's device key ("4000"), a host's net.* counters the physical
// NIC ("vmnic0"), its datastore.* counters the datastore's UUID and its
// disk.* counters the LUN's canonical name. These discoveries derive the
// instances from the configuration, so that Zabbix low-level discovery can
// create one item per instance and poll it with *.perf.metric.get.
//
// Each reads one property of the VM or host through the store
// (a.store.Get): the first request reads it from vCenter, then it joins
// the watched mirror and later discoveries cost no vCenter call. None of
// these paths is watched from the start (config.hardware.device in
// particular is large); they join on first use.

const (
	pathDevices  = "config.hardware.device"
	pathPnics    = "config.network.pnic"
	pathScsiLuns = "config.storageDevice.scsiLun"
	pathHostDS   = "datastore"

	// lunTypeDisk is the ScsiLun.lunType of disks (the others are
	// cdrom, tape, enclosure, ...: no disk.* counters).
	lunTypeDisk = "disk"
)

// vmDevices reads name and config.hardware.device of the VM the request
// names.
func vmDevices(ctx context.Context, a *Agent, req *vpoller.Request) ([]types.BaseVirtualDevice, error) {
	pv, err := vmGuest(ctx, a, req, pathDevices)
	if err != nil {
		return nil, err
	}
	return devicesOf(pv[pathDevices]), nil
}

// hostProperty reads one property of the host the request names.
func hostProperty(ctx context.Context, a *Agent, req *vpoller.Request, path string) (any, error) {
	ref, err := a.store.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return nil, err
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{path})
	if err != nil {
		return nil, err
	}
	return pv[path], nil
}

// devicesOf returns the virtual devices of a property value, as the
// mirror (ArrayOf wrapper) or a direct read may hold them.
func devicesOf(v any) []types.BaseVirtualDevice {
	switch d := v.(type) {
	case types.ArrayOfVirtualDevice:
		return d.VirtualDevice
	case *types.ArrayOfVirtualDevice:
		if d != nil {
			return d.VirtualDevice
		}
	case []types.BaseVirtualDevice:
		return d
	}
	return nil
}

// pnicsOf returns the physical NICs of a property value.
func pnicsOf(v any) []types.PhysicalNic {
	switch p := v.(type) {
	case types.ArrayOfPhysicalNic:
		return p.PhysicalNic
	case *types.ArrayOfPhysicalNic:
		if p != nil {
			return p.PhysicalNic
		}
	case []types.PhysicalNic:
		return p
	}
	return nil
}

// scsiLunsOf returns the SCSI LUNs of a property value.
func scsiLunsOf(v any) []types.BaseScsiLun {
	switch l := v.(type) {
	case types.ArrayOfScsiLun:
		return l.ScsiLun
	case *types.ArrayOfScsiLun:
		if l != nil {
			return l.ScsiLun
		}
	case []types.BaseScsiLun:
		return l
	}
	return nil
}

// deviceLabel is the label vSphere shows for a device ("Hard disk 1").
func deviceLabel(d *types.VirtualDevice) string {
	if d.DeviceInfo == nil {
		return ""
	}
	if desc := d.DeviceInfo.GetDescription(); desc != nil {
		return desc.Label
	}
	return ""
}

// controllerBus names a disk controller as virtualDisk.* instances do,
// with its bus number; ok is false for a device that is no disk
// controller vSphere keeps disk counters for.
func controllerBus(c types.BaseVirtualDevice) (bus string, number int32, ok bool) {
	switch d := c.(type) {
	case types.BaseVirtualSCSIController: // ParaVirtual, LsiLogic, LsiLogicSAS, BusLogic
		return "scsi", d.GetVirtualSCSIController().BusNumber, true
	case types.BaseVirtualSATAController: // AHCI
		return "sata", d.GetVirtualSATAController().BusNumber, true
	case *types.VirtualIDEController:
		return "ide", d.BusNumber, true
	case *types.VirtualNVMEController:
		return "nvme", d.BusNumber, true
	}
	return "", 0, false
}

// vdisk is one virtual disk with its perf instance and the parts it
// sorts by.
type vdisk struct {
	bus             string
	number, unit    int32
	label, fileName string
	capacity        int64
}

func (d vdisk) instance() string { return fmt.Sprintf("%s%d:%d", d.bus, d.number, d.unit) }

// virtualDisks lists the disks of devices whose controller is known and
// whose unit number is set, sorted by bus type, bus number and unit
// number (scsi0:2 before scsi0:10).
func virtualDisks(devices []types.BaseVirtualDevice) []vdisk {
	byKey := make(map[int32]types.BaseVirtualDevice, len(devices))
	for _, d := range devices {
		if d != nil {
			byKey[d.GetVirtualDevice().Key] = d
		}
	}
	var out []vdisk
	for _, d := range devices {
		disk, ok := d.(*types.VirtualDisk)
		if !ok || disk.UnitNumber == nil {
			continue
		}
		c, ok := byKey[disk.ControllerKey]
		if !ok {
			continue
		}
		bus, number, ok := controllerBus(c)
		if !ok {
			continue
		}
		capacity := disk.CapacityInBytes
		if capacity <= 0 {
			capacity = disk.CapacityInKB * 1024
		}
		fileName := ""
		if fb, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok && fb != nil {
			fileName = fb.GetVirtualDeviceFileBackingInfo().FileName
		}
		out = append(out, vdisk{bus: bus, number: number, unit: *disk.UnitNumber,
			label: deviceLabel(&disk.VirtualDevice), fileName: fileName, capacity: capacity})
	}
	slices.SortFunc(out, func(x, y vdisk) int {
		return cmp.Or(cmp.Compare(x.bus, y.bus), cmp.Compare(x.number, y.number), cmp.Compare(x.unit, y.unit))
	})
	return out
}

// vmVdiskDiscover (vm.vdisk.discover): the VM's virtual disks,
// [{"instance": "scsi0:0", "label", "capacity": bytes, "fileName"}], the
// instance being what the VM's virtualDisk.* counters use. A VM without
// disks: [].
func vmVdiskDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	devices, err := vmDevices(ctx, a, req)
	if err != nil {
		return fail(req, err)
	}
	disks := virtualDisks(devices)
	out := make([]any, 0, len(disks))
	for _, d := range disks {
		out = append(out, vpoller.Object{
			{Key: "instance", Value: d.instance()},
			{Key: "label", Value: d.label},
			{Key: "capacity", Value: d.capacity},
			{Key: "fileName", Value: d.fileName},
		})
	}
	return vpoller.OK(msgDiscovered, out)
}

// nicNetwork names what a virtual NIC's backing connects to: the
// network's name for a standard portgroup, the portgroup key for a
// distributed port, "" for anything else (opaque networks, no backing).
func nicNetwork(b types.BaseVirtualDeviceBackingInfo) string {
	switch n := b.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return n.DeviceName
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		return n.Port.PortgroupKey
	}
	return ""
}

// vmVnicDiscover (vm.vnic.discover): the VM's virtual NICs,
// [{"instance": "4000", "label", "macAddress", "network", "connected"}],
// the instance being the device key the VM's net.* counters use, sorted
// numerically. A VM without NICs: [].
func vmVnicDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	devices, err := vmDevices(ctx, a, req)
	if err != nil {
		return fail(req, err)
	}
	var nics []*types.VirtualEthernetCard
	for _, d := range devices {
		if e, ok := d.(types.BaseVirtualEthernetCard); ok && e != nil {
			nics = append(nics, e.GetVirtualEthernetCard())
		}
	}
	slices.SortFunc(nics, func(x, y *types.VirtualEthernetCard) int { return cmp.Compare(x.Key, y.Key) })
	out := make([]any, 0, len(nics))
	for _, n := range nics {
		out = append(out, vpoller.Object{
			{Key: "instance", Value: strconv.FormatInt(int64(n.Key), 10)},
			{Key: "label", Value: deviceLabel(&n.VirtualDevice)},
			{Key: "macAddress", Value: n.MacAddress},
			{Key: "network", Value: nicNetwork(n.Backing)},
			{Key: "connected", Value: n.Connectable != nil && n.Connectable.Connected},
		})
	}
	return vpoller.OK(msgDiscovered, out)
}

// hostPnicDiscover (host.pnic.discover): the host's physical NICs,
// [{"instance": "vmnic0", "mac", "driver", "linkSpeed": Mb/s}], the
// instance being what the host's net.* counters use; linkSpeed is 0 for
// a NIC whose link is down. Sorted by instance (vmnic2 before vmnic10).
func hostPnicDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	v, err := hostProperty(ctx, a, req, pathPnics)
	if err != nil {
		return fail(req, err)
	}
	pnics := slices.Clone(pnicsOf(v)) // the mirror's value is shared
	slices.SortFunc(pnics, func(x, y types.PhysicalNic) int { return compareInstances(x.Device, y.Device) })
	out := make([]any, 0, len(pnics))
	for _, p := range pnics {
		speed := int64(0)
		if p.LinkSpeed != nil {
			speed = int64(p.LinkSpeed.SpeedMb)
		}
		out = append(out, vpoller.Object{
			{Key: "instance", Value: p.Device},
			{Key: "mac", Value: p.Mac},
			{Key: "driver", Value: p.Driver},
			{Key: "linkSpeed", Value: speed},
		})
	}
	return vpoller.OK(msgDiscovered, out)
}

// datastoreUUID is the last non-empty path element of a datastore URL:
// "ds:///vmfs/volumes/5a3b-.../" -> "5a3b-...", the instance of a host's
// datastore.* counters.
func datastoreUUID(url string) string {
	parts := strings.Split(url, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] != "" {
			return parts[i]
		}
	}
	return ""
}

// hostDatastoreDiscover (host.datastore.discover): the datastores mounted
// on the host, [{"instance": UUID, "name", "url", "moref"}], sorted by
// name. The host's datastore list joins the mirror on first use; names
// and URLs are index properties, always watched.
func hostDatastoreDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	refs, _, err := related(ctx, a, objects.Host, req, pathHostDS)
	if err != nil {
		return fail(req, err)
	}
	type datastore struct{ name, url, moref string }
	var list []datastore
	if len(refs) > 0 {
		vals, err := a.store.GetMany(ctx, refs, []string{pathName, objects.PathURL})
		if err != nil {
			return fail(req, err) // unwrapped: fail tells SOAP faults by their type
		}
		for _, r := range refs {
			pv, ok := vals[r]
			if !ok { // gone since the host listed it
				continue
			}
			name, _ := pv[pathName].(string)
			url, _ := pv[objects.PathURL].(string)
			list = append(list, datastore{name: name, url: url, moref: r.Value})
		}
	}
	slices.SortFunc(list, func(x, y datastore) int { return cmp.Or(cmp.Compare(x.name, y.name), cmp.Compare(x.moref, y.moref)) })
	out := make([]any, 0, len(list))
	for _, d := range list {
		out = append(out, vpoller.Object{
			{Key: "instance", Value: datastoreUUID(d.url)},
			{Key: "name", Value: d.name},
			{Key: "url", Value: d.url},
			{Key: "moref", Value: d.moref},
		})
	}
	return vpoller.OK(msgDiscovered, out)
}

// hostLunDiscover (host.lun.discover): the host's SCSI disks,
// [{"instance": canonical name, "displayName", "vendor", "model",
// "capacity": bytes}], the instance being what the host's disk.* counters
// use. CD-ROMs, tapes, enclosures and other LUN types have no disk
// counters and are left out. Sorted by instance.
func hostLunDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	v, err := hostProperty(ctx, a, req, pathScsiLuns)
	if err != nil {
		return fail(req, err)
	}
	type lun struct {
		base *types.ScsiLun
		cap  int64
	}
	var luns []lun
	for _, b := range scsiLunsOf(v) {
		if b == nil {
			continue
		}
		l := b.GetScsiLun()
		if l == nil || l.LunType != lunTypeDisk {
			continue
		}
		capacity := int64(0)
		if d, ok := b.(*types.HostScsiDisk); ok {
			capacity = d.Capacity.Block * int64(d.Capacity.BlockSize)
		}
		luns = append(luns, lun{base: l, cap: capacity})
	}
	slices.SortFunc(luns, func(x, y lun) int { return compareInstances(x.base.CanonicalName, y.base.CanonicalName) })
	out := make([]any, 0, len(luns))
	for _, l := range luns {
		out = append(out, vpoller.Object{
			{Key: "instance", Value: l.base.CanonicalName},
			{Key: "displayName", Value: l.base.DisplayName},
			{Key: "vendor", Value: strings.TrimSpace(l.base.Vendor)},
			{Key: "model", Value: strings.TrimSpace(l.base.Model)},
			{Key: "capacity", Value: l.cap},
		})
	}
	return vpoller.OK(msgDiscovered, out)
}

// compareInstances orders instance names with their digit runs compared
// as numbers ("vmnic2" before "vmnic10", "mpx.vmhba0:C0:T2:L0" before
// "mpx.vmhba0:C0:T10:L0"), so that discoveries list NICs and LUNs as
// vSphere's own views do; names equal that way fall back to byte order,
// so the order is total.
func compareInstances(x, y string) int {
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		if isDigit(x[i]) && isDigit(y[j]) {
			si, sj := i, j
			for i < len(x) && isDigit(x[i]) {
				i++
			}
			for j < len(y) && isDigit(y[j]) {
				j++
			}
			a := strings.TrimLeft(x[si:i], "0")
			b := strings.TrimLeft(y[sj:j], "0")
			if c := cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b)); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(x[i], y[j]); c != 0 {
			return c
		}
		i++
		j++
	}
	return cmp.Or(cmp.Compare(len(x)-i, len(y)-j), cmp.Compare(x, y))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
