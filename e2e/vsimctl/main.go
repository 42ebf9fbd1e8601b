// Command vsimctl acts on the e2e's simulated vCenter through the vSphere
// API, as a vSphere administrator would, independently of vPoller: the
// e2e (e2e/run.sh) shapes the inventory with it and renames a VM to prove
// that discovered Zabbix hosts keep their identity.
//
//	vsimctl -url https://user:pass@127.0.0.1:PORT/sdk pod NAME
//	    creates datastore cluster NAME (a StoragePod) in the first
//	    datacenter's datastore folder and moves every datastore of that
//	    datacenter into it (the simulator has no datastore cluster).
//	vsimctl -url ... rename-vm OLD NEW
//	    renames virtual machine OLD to NEW (VirtualMachine.Rename_Task).
//	vsimctl -url ... alarm VM
//	    posts the vcsim event "vcsim.vm.fatal" on VM: the simulator's
//	    alarm manager raises its red VM alarm.
//	vsimctl -url ... tag VM CATEGORY TAG
//	    creates the tag category and tag if new (vAPI tagging service) and
//	    attaches the tag to VM.
//	vsimctl -url ... event VM EVENT_TYPE_ID
//	    posts an extended event of severity warning on VM.
//
// TLS is not verified: the simulator's certificate is self-signed and it
// listens on 127.0.0.1 only.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vsimctl:", err)
		os.Exit(1)
	}
}

func run() error {
	raw := flag.String("url", "", "SDK URL of the simulated vCenter with credentials (required)")
	flag.Parse()
	args := flag.Args()
	if *raw == "" || len(args) == 0 {
		return fmt.Errorf("usage: vsimctl -url URL pod NAME | rename-vm OLD NEW | alarm VM | tag VM CATEGORY TAG | event VM TYPE")
	}
	u, err := url.Parse(*raw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = c.Logout(context.Background()) }()
	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	switch {
	case args[0] == "pod" && len(args) == 2:
		folders, err := dc.Folders(ctx)
		if err != nil {
			return err
		}
		pod, err := folders.DatastoreFolder.CreateStoragePod(ctx, args[1])
		if err != nil {
			return fmt.Errorf("create datastore cluster %s: %w", args[1], err)
		}
		list, err := finder.DatastoreList(ctx, "*")
		if err != nil {
			return err
		}
		var refs []types.ManagedObjectReference
		for _, ds := range list {
			refs = append(refs, ds.Reference())
		}
		task, err := pod.MoveInto(ctx, refs)
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return fmt.Errorf("move datastores into %s: %w", args[1], err)
		}
		fmt.Printf("datastore cluster %s (%s) holds %d datastore(s)\n", args[1], pod.Reference().Value, len(refs))
	case args[0] == "rename-vm" && len(args) == 3:
		vm, err := finder.VirtualMachine(ctx, args[1])
		if err != nil {
			return err
		}
		task, err := vm.Rename(ctx, args[2])
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return fmt.Errorf("rename %s: %w", args[1], err)
		}
		fmt.Printf("renamed VM %s (%s) to %s\n", args[1], vm.Reference().Value, args[2])
	case args[0] == "alarm" && len(args) == 2:
		return onVM(ctx, finder, args[1], func(vm types.ManagedObjectReference) error {
			return postEvent(ctx, c, vm, "vcsim.vm.fatal", "error")
		})
	case args[0] == "event" && len(args) == 3:
		return onVM(ctx, finder, args[1], func(vm types.ManagedObjectReference) error {
			return postEvent(ctx, c, vm, args[2], "warning")
		})
	case args[0] == "tag" && len(args) == 4:
		return onVM(ctx, finder, args[1], func(vm types.ManagedObjectReference) error {
			return attachTag(ctx, c, u.User, vm, args[2], args[3])
		})
	default:
		return fmt.Errorf("unknown command %q", args)
	}
	return nil
}

// onVM runs f on the virtual machine named name.
func onVM(ctx context.Context, finder *find.Finder, name string, f func(types.ManagedObjectReference) error) error {
	vm, err := finder.VirtualMachine(ctx, name)
	if err != nil {
		return err
	}
	return f(vm.Reference())
}

// postEvent posts an extended event on the VM: the simulator's alarm
// manager turns "vcsim.vm.fatal" into a red alarm, and every event reaches
// the event stream that vpoller.events reads.
func postEvent(ctx context.Context, c *govmomi.Client, vm types.ManagedObjectReference, typeID, severity string) error {
	_, err := methods.PostEvent(ctx, c.Client, &types.PostEvent{This: *c.ServiceContent.EventManager,
		EventToPost: &types.EventEx{EventTypeId: typeID, Severity: severity, ObjectType: "VirtualMachine", ObjectId: vm.Value,
			Event: types.Event{Vm: &types.VmEventArgument{Vm: vm}}}})
	if err != nil {
		return fmt.Errorf("post event %s: %w", typeID, err)
	}
	return nil
}

// attachTag attaches tag of category (both created if new) to the VM
// through vCenter's tagging service (vAPI).
func attachTag(ctx context.Context, c *govmomi.Client, user *url.Userinfo, vm types.ManagedObjectReference, category, tag string) error {
	rc := rest.NewClient(c.Client)
	if err := rc.Login(ctx, user); err != nil {
		return fmt.Errorf("vAPI login: %w", err)
	}
	defer func() { _ = rc.Logout(context.Background()) }()
	m := tags.NewManager(rc)
	catID := ""
	if cat, err := m.GetCategory(ctx, category); err == nil {
		catID = cat.ID
	} else if catID, err = m.CreateCategory(ctx, &tags.Category{Name: category, Cardinality: "MULTIPLE"}); err != nil {
		return fmt.Errorf("create category %s: %w", category, err)
	}
	tagID := ""
	if t, err := m.GetTagForCategory(ctx, tag, catID); err == nil {
		tagID = t.ID
	} else if tagID, err = m.CreateTag(ctx, &tags.Tag{Name: tag, CategoryID: catID}); err != nil {
		return fmt.Errorf("create tag %s: %w", tag, err)
	}
	return m.AttachTag(ctx, tagID, vm)
}
