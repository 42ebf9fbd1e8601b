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
		return fmt.Errorf("usage: vsimctl -url URL pod NAME | rename-vm OLD NEW")
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
	default:
		return fmt.Errorf("unknown command %q", args)
	}
	return nil
}
