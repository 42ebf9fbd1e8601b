// Command simact acts on the e2e's simulated vCenter as a vSphere user
// would, so that the e2e can check that alarms, tags and events reach
// Zabbix: the simulator starts with none of them.
//
//	simact -addr 127.0.0.1:PORT alarm <vm>                 raise the vcsim alarm "vcsim.vm.fatal" (red) on a VM
//	simact -addr 127.0.0.1:PORT tag <vm> <category> <tag>  create the category and tag if new, attach the tag to a VM
//	simact -addr 127.0.0.1:PORT event <vm> <eventTypeId>   post an extended event of severity warning on a VM
//
// The address is the embedded simulator's (the worker logs it as "started
// embedded vSphere simulator ... address=..."); the credentials default to
// the embedded simulator's. It skips TLS verification: the simulator's
// certificate is self-signed and created at start, on the loopback address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	addr := flag.String("addr", "", "host:port of the simulator (required)")
	user := flag.String("user", "user", "user name")
	pass := flag.String("pass", "pass", "password")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, *addr, url.UserPassword(*user, *pass), flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "simact:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, user *url.Userinfo, args []string) error {
	if addr == "" || len(args) < 2 {
		return errors.New("usage: simact -addr host:port alarm <vm> | tag <vm> <category> <tag> | event <vm> <eventTypeId>")
	}
	u := &url.URL{Scheme: "https", Host: addr, Path: "/sdk", User: user}
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer func() { _ = c.Logout(context.Background()) }()
	vm, err := findVM(ctx, c, args[1])
	if err != nil {
		return err
	}
	switch {
	case args[0] == "alarm":
		return postEvent(ctx, c, vm, "vcsim.vm.fatal", "error")
	case args[0] == "event" && len(args) == 3:
		return postEvent(ctx, c, vm, args[2], "warning")
	case args[0] == "tag" && len(args) == 4:
		return attachTag(ctx, c, user, vm, args[2], args[3])
	}
	return fmt.Errorf("unknown action %q (or wrong arguments)", args[0])
}

// findVM returns the reference of the VM named name.
func findVM(ctx context.Context, c *govmomi.Client, name string) (types.ManagedObjectReference, error) {
	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	defer func() { _ = v.Destroy(context.Background()) }()
	refs, err := v.Find(ctx, []string{"VirtualMachine"}, property.Match{"name": name})
	if err != nil || len(refs) == 0 {
		return types.ManagedObjectReference{}, fmt.Errorf("VM %q not found: %v", name, err)
	}
	return refs[0], nil
}

// postEvent posts an extended event on the VM: the simulator's alarm
// manager turns "vcsim.vm.fatal" into a red alarm, and every event reaches
// the event stream that vpoller.events reads.
func postEvent(ctx context.Context, c *govmomi.Client, vm types.ManagedObjectReference, typeID, severity string) error {
	_, err := methods.PostEvent(ctx, c.Client, &types.PostEvent{This: *c.ServiceContent.EventManager,
		EventToPost: &types.EventEx{EventTypeId: typeID, Severity: severity, ObjectType: "VirtualMachine", ObjectId: vm.Value,
			Event: types.Event{Vm: &types.VmEventArgument{Vm: vm}}}})
	return err
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
