package objects

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func ref(typ, id string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: typ, Value: id}
}

// enter is an ObjectUpdate that brings an object with properties.
func enter(r types.ManagedObjectReference, props ...any) types.ObjectUpdate {
	ou := types.ObjectUpdate{Obj: r, Kind: types.ObjectUpdateKindEnter}
	for i := 0; i+1 < len(props); i += 2 {
		ou.ChangeSet = append(ou.ChangeSet, types.PropertyChange{Name: props[i].(string), Op: types.PropertyChangeOpAssign, Val: props[i+1]})
	}
	return ou
}

func update(objs ...types.ObjectUpdate) *types.UpdateSet {
	return &types.UpdateSet{Version: "1", FilterSet: []types.PropertyFilterUpdate{{ObjectSet: objs}}}
}

func same(p string) string { return p }

func TestInventoryLookup(t *testing.T) {
	t.Parallel()
	inv := newInventory()
	n, err := inv.apply(update(
		enter(ref("VirtualMachine", "vm-1"), "name", "web", "config.instanceUuid", "5000AAAA-0000-0000-0000-000000000001", "config.uuid", "4200bbbb-0000-0000-0000-000000000001"),
		enter(ref("VirtualMachine", "vm-2"), "name", "db"),
		enter(ref("VirtualMachine", "vm-3"), "name", "db"),
		enter(ref("HostSystem", "host-1"), "name", "web", "hardware.systemInfo.uuid", "host-uuid-1"),
		enter(ref("Datastore", "datastore-1"), "name", "ds1", "info.url", "ds:///vmfs/volumes/1/"),
		enter(ref("Datastore", "datastore-2"), "name", "ds:///vmfs/volumes/1/", "info.url", "ds:///vmfs/volumes/2/"),
		enter(ref("ResourcePool", "resgroup-9"), "name", "Resources"),
	), same, 1)
	if err != nil || n != 7 {
		t.Fatalf("apply: %d updates, %v", n, err)
	}
	for _, tc := range []struct {
		kind *Kind
		key  string
		want string // ref id, or the error text
	}{
		{VM, "web", "vm-1"},
		{Host, "web", "host-1"},
		{VM, "vm-2", "vm-2"},
		{VM, "db", "Cannot find object db: 2 objects have this name (vm-2, vm-3); use the managed object id"},
		{VM, "5000aaaa-0000-0000-0000-000000000001", "vm-1"},
		{VM, "4200BBBB-0000-0000-0000-000000000001", "vm-1"},
		{Host, "HOST-UUID-1", "host-1"},
		{Datastore, "ds:///vmfs/volumes/1/", "datastore-1"}, // URL first, then name
		{Datastore, "ds1", "datastore-1"},
		{Datastore, "datastore-2", "datastore-2"},
		{Pool, "resgroup-9", "resgroup-9"},
		{VM, "host-1", "Cannot find object host-1"},
		{Pool, "5000aaaa-0000-0000-0000-000000000001", "Cannot find object 5000aaaa-0000-0000-0000-000000000001"},
		{VM, "nope", "Cannot find object nope"},
	} {
		o, err := inv.find(tc.kind, tc.key)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = o.ref.Value
		}
		if got != tc.want {
			t.Errorf("find(%s, %q) = %s, want %s", tc.kind.Name, tc.key, got, tc.want)
		}
	}
	// A rename refiles the object; a leave forgets it; order stays.
	if _, err := inv.apply(update(
		types.ObjectUpdate{Obj: ref("VirtualMachine", "vm-3"), Kind: types.ObjectUpdateKindModify,
			ChangeSet: []types.PropertyChange{{Name: "name", Op: types.PropertyChangeOpAssign, Val: "db2"}}},
		types.ObjectUpdate{Obj: ref("VirtualMachine", "vm-1"), Kind: types.ObjectUpdateKindLeave},
	), same, 1); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"db": "vm-2", "db2": "vm-3", "web": "Cannot find object web",
		"5000aaaa-0000-0000-0000-000000000001": "Cannot find object 5000aaaa-0000-0000-0000-000000000001"} {
		o, err := inv.find(VM, key)
		got := fmt.Sprint(err)
		if err == nil {
			got = o.ref.Value
		}
		if got != want {
			t.Errorf("after rename/leave: find(vm, %q) = %s, want %s", key, got, want)
		}
	}
	var order []string
	for _, o := range inv.list(VM) {
		order = append(order, o.ref.Value)
	}
	if strings.Join(order, ",") != "vm-2,vm-3" {
		t.Errorf("list order %v", order)
	}
}

// TestInventoryUnsetAndCompact: removed properties and missing ones
// leave the values; many leaves compact the order without losing the
// survivors or their order; a NotAuthenticated missing property is a lost
// session.
func TestInventoryUnsetAndCompact(t *testing.T) {
	t.Parallel()
	inv := newInventory()
	var objs []types.ObjectUpdate
	for i := range 200 {
		objs = append(objs, enter(ref("VirtualMachine", fmt.Sprintf("vm-%d", i)), "name", fmt.Sprintf("v%d", i), "runtime.powerState", "poweredOn"))
	}
	if _, err := inv.apply(update(objs...), same, 1); err != nil {
		t.Fatal(err)
	}
	var leave []types.ObjectUpdate
	for i := range 200 {
		if i%3 != 2 { // 134 leave: more than half, so the order is compacted
			leave = append(leave, types.ObjectUpdate{Obj: ref("VirtualMachine", fmt.Sprintf("vm-%d", i)), Kind: types.ObjectUpdateKindLeave})
		}
	}
	leave = append(leave,
		types.ObjectUpdate{Obj: ref("VirtualMachine", "vm-5"), Kind: types.ObjectUpdateKindModify,
			ChangeSet: []types.PropertyChange{{Name: "runtime.powerState", Op: types.PropertyChangeOpRemove}}},
		types.ObjectUpdate{Obj: ref("VirtualMachine", "vm-2"), Kind: types.ObjectUpdateKindModify,
			MissingSet: []types.MissingProperty{{Path: "runtime.powerState", Fault: types.LocalizedMethodFault{Fault: &types.SystemError{}}}}})
	if _, err := inv.apply(update(leave...), same, 1); err != nil {
		t.Fatal(err)
	}
	list := inv.list(VM)
	// Compacted when the 101st left (more than half of 200): 99 remain
	// in the order, 33 of them gone since.
	if len(list) != 66 || len(inv.byRef) != 66 || len(inv.order) != 99 || inv.nGone != 33 {
		t.Fatalf("%d listed, %d held, %d in the order (%d gone); want 66, 66, 99, 33", len(list), len(inv.byRef), len(inv.order), inv.nGone)
	}
	for i := 1; i < len(list); i++ {
		if list[i].seq <= list[i-1].seq {
			t.Fatal("order lost")
		}
	}
	if _, ok := inv.byRef[ref("VirtualMachine", "vm-5")].vals["runtime.powerState"]; ok {
		t.Error("removed property still there")
	}
	if _, ok := inv.byRef[ref("VirtualMachine", "vm-2")].vals["runtime.powerState"]; ok {
		t.Error("missing property still there")
	}
	if o, err := inv.find(VM, "v8"); err != nil || o.ref.Value != "vm-8" {
		t.Errorf("lookup after compaction: %v %v", o, err)
	}
	_, err := inv.apply(update(types.ObjectUpdate{Obj: ref("VirtualMachine", "vm-8"), Kind: types.ObjectUpdateKindModify,
		MissingSet: []types.MissingProperty{{Path: "name", Fault: types.LocalizedMethodFault{Fault: &types.NotAuthenticated{}}}}}), same, 1)
	if err != errSessionLost {
		t.Errorf("NotAuthenticated in an update: %v", err)
	}
}

// TestInventoryFollowsViewMembers: a member list of the container view
// removes the objects it lacks, even when their leave was not reported;
// of several lists in one result, any that lacks an object removes it;
// an object entering in the same result stays.
func TestInventoryFollowsViewMembers(t *testing.T) {
	t.Parallel()
	inv := newInventory()
	inv.view = ref("ContainerView", "view-1")
	members := func(ids ...string) types.ObjectUpdate {
		var refs []types.ManagedObjectReference
		for _, id := range ids {
			refs = append(refs, ref("VirtualMachine", id))
		}
		return types.ObjectUpdate{Obj: inv.view, Kind: types.ObjectUpdateKindModify,
			ChangeSet: []types.PropertyChange{{Name: "view", Op: types.PropertyChangeOpAssign, Val: types.ArrayOfManagedObjectReference{ManagedObjectReference: refs}}}}
	}
	held := func() string {
		var ids []string
		for _, o := range inv.list(VM) {
			ids = append(ids, o.ref.Value)
		}
		return strings.Join(ids, ",")
	}
	if _, err := inv.apply(update(enter(ref("VirtualMachine", "vm-1"), "name", "a"), enter(ref("VirtualMachine", "vm-2"), "name", "b"),
		enter(ref("VirtualMachine", "vm-3"), "name", "c"), members("vm-1", "vm-2", "vm-3")), same, 1); err != nil {
		t.Fatal(err)
	}
	if got := held(); got != "vm-1,vm-2,vm-3" {
		t.Fatalf("after the first sync: %s", got)
	}
	if _, ok := inv.byRef[inv.view]; ok {
		t.Error("the view itself is held as an object")
	}
	// vm-2's leave was lost; the current list lacks it, a stale one in the
	// same result still has it.
	if _, err := inv.apply(update(members("vm-1", "vm-3"), members("vm-1", "vm-2", "vm-3")), same, 1); err != nil {
		t.Fatal(err)
	}
	if got := held(); got != "vm-1,vm-3" {
		t.Errorf("after a list without vm-2: %s", got)
	}
	// vm-4 enters with a list that does not have it yet.
	if _, err := inv.apply(update(enter(ref("VirtualMachine", "vm-4"), "name", "d"), members("vm-1", "vm-3")), same, 1); err != nil {
		t.Fatal(err)
	}
	if got := held(); got != "vm-1,vm-3,vm-4" {
		t.Errorf("after vm-4 entered: %s", got)
	}
}
