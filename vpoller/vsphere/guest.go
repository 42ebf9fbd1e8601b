package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Guest methods read what VMware Tools report (guest.disk, guest.net) or
// ask the guest itself (processes). Each element carries the default
// property first, then the requested ones; a property the data object
// lacks is "(null)", as in the original.

// pick builds an object of the named fields of a converted data object.
func pick(v any, props []string) vpoller.Object {
	src, _ := v.(vpoller.Object)
	out := make(vpoller.Object, 0, len(props))
	for _, p := range props {
		val, ok := src.Get(p)
		if !ok {
			val = "(null)"
		}
		out = append(out, vpoller.Field{Key: p, Value: val})
	}
	return out
}

// guestProps is first followed by the requested properties, each once.
func guestProps(first string, req []string) []string {
	out := []string{first}
	for _, p := range req {
		if p != first {
			out = append(out, p)
		}
	}
	return out
}

// vmGuest retrieves name and one guest path of a VM.
func vmGuest(ctx context.Context, a *Agent, req *vpoller.Request, path string) (objects.Values, error) {
	ref, err := a.store.Lookup(ctx, objects.VM, req.Name)
	if err != nil {
		return nil, err
	}
	return a.store.Get(ctx, ref, req.Name, []string{pathName, path})
}

func guestDisks(pv objects.Values) []types.GuestDiskInfo {
	switch v := pv["guest.disk"].(type) {
	case types.ArrayOfGuestDiskInfo:
		return v.GuestDiskInfo
	case []types.GuestDiskInfo:
		return v
	}
	return nil
}

// vmDiskDiscover (vm.disk.discover): [{"name": vm, "disk": [{"diskPath", ...}]}].
func vmDiskDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := vmGuest(ctx, a, req, "guest.disk")
	if err != nil {
		return fail(req, err)
	}
	props := guestProps("diskPath", req.Properties)
	disks := []any{}
	for _, d := range guestDisks(pv) {
		disks = append(disks, pick(toValue(d), props))
	}
	return vpoller.OK(msgDiscovered, []any{vpoller.Object{{Key: pathName, Value: toValue(pv[pathName])}, {Key: "disk", Value: disks}}})
}

// vmDiskGet (vm.disk.get): [{"name": vm, "disk": {"diskPath", ...}}] for
// the guest disk whose path is key. Without key (null or empty, as
// vpoller-client sends it) it is vm.disk.discover's reply, message
// included, as the original's task returned its discovery's reply then.
func vmDiskGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	if req.Key == "" {
		return vmDiskDiscover(ctx, a, req)
	}
	pv, err := vmGuest(ctx, a, req, "guest.disk")
	if err != nil {
		return fail(req, err)
	}
	props := guestProps("diskPath", req.Properties)
	name := vpoller.Field{Key: pathName, Value: toValue(pv[pathName])}
	for _, d := range guestDisks(pv) {
		if d.DiskPath == req.Key {
			return vpoller.OK("Successfully retrieved properties", []any{vpoller.Object{name, {Key: "disk", Value: pick(toValue(d), props)}}})
		}
	}
	return vpoller.Fail("Unable to find guest disk " + req.Key)
}

// vmGuestNetGet (vm.guest.net.get): OBJECT {"name": vm, "net": [{"network", ...}]}.
func vmGuestNetGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := vmGuest(ctx, a, req, "guest.net")
	if err != nil {
		return fail(req, err)
	}
	var nics []types.GuestNicInfo
	switch v := pv["guest.net"].(type) {
	case types.ArrayOfGuestNicInfo:
		nics = v.GuestNicInfo
	case []types.GuestNicInfo:
		nics = v
	}
	props := guestProps("network", req.Properties)
	list := []any{}
	for _, n := range nics {
		list = append(list, pick(toValue(n), props))
	}
	return vpoller.OK("Successfully retrieved properties", vpoller.Object{{Key: pathName, Value: toValue(pv[pathName])}, {Key: "net", Value: list}})
}

// vmProcessGet (vm.process.get) lists the guest's processes through the
// guest operations manager: [{"cmdLine", ...}]. It needs VMware Tools
// running and guest credentials (never logged).
func vmProcessGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.VM, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, "guest.toolsRunningStatus"})
	if err != nil {
		return fail(req, err)
	}
	if fmt.Sprint(toValue(pv["guest.toolsRunningStatus"])) != string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		return vpoller.Fail(req.Name + " is not running VMware Tools")
	}
	if req.Username == "" || req.Password == "" {
		return vpoller.Fail("Need username and password for authentication in guest system " + req.Name)
	}
	vc, err := a.Client(ctx)
	if err != nil {
		return fail(req, err)
	}
	if vc.ServiceContent.GuestOperationsManager == nil {
		return vpoller.Fail("No guest operations manager on this vSphere agent")
	}
	gom := *vc.ServiceContent.GuestOperationsManager
	gv, err := a.store.Get(ctx, gom, gom.Value, []string{"processManager"})
	if err != nil {
		return fail(req, err)
	}
	pm, ok := gv["processManager"].(types.ManagedObjectReference)
	if !ok {
		return vpoller.Fail("No guest process manager on this vSphere agent")
	}
	res, err := methods.ListProcessesInGuest(ctx, vc, &types.ListProcessesInGuest{This: pm, Vm: ref,
		Auth: &types.NamePasswordAuthentication{Username: req.Username, Password: req.Password}})
	if err != nil {
		return fail(req, fmt.Errorf("list processes in guest %s: %w", req.Name, err))
	}
	props := guestProps("cmdLine", req.Properties)
	out := make([]any, 0, len(res.Returnval))
	for _, p := range res.Returnval {
		out = append(out, pick(toValue(p), props))
	}
	return vpoller.OK("Successfully retrieved properties", out)
}
