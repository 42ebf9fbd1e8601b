package objects

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	govobj "github.com/vmware/govmomi/object"
)

// TestFieldDefs: the custom field definitions load once and serve
// requests without a call within their TTL; a field defined since shows
// only to a request that asks for a load begun after a moment (the
// handler's answer to a name or key it does not know), and Attributes
// maps an object's values to every field of its type.
func TestFieldDefs(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{Mirror: MirrorOptions{Off: true}}, nil)
	ctx := context.Background()
	if _, err := s.sess.Client(ctx); err != nil { // starts the simulator
		t.Fatal(err)
	}
	admin, err := govmomi.NewClient(ctx, s.sess.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Logout(ctx) })
	cfm, err := govobj.GetCustomFieldsManager(admin.Client)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := cfm.Add(ctx, "Owner", "VirtualMachine", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfm.Add(ctx, "Rack", "HostSystem", nil, nil); err != nil {
		t.Fatal(err)
	}
	calls := func() uint64 { return s.sess.Stats().Calls["RetrievePropertiesEx"] }

	before := calls()
	defs, err := s.FieldDefs(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n := calls() - before; n != 1 {
		t.Errorf("first load: %d calls, want 1", n)
	}
	got, ok := defs.Attributes("VirtualMachine", map[int32]string{owner.Key: "alice"})
	if want := map[string]string{"Owner": "alice"}; !ok || !maps.Equal(got, want) {
		t.Errorf("a VM's attributes: %v (ok %v), want %v", got, ok, want)
	}
	if got, ok := defs.Attributes("HostSystem", map[int32]string{999: "x"}); ok || !maps.Equal(got, map[string]string{"Rack": ""}) {
		t.Errorf("a host with an unknown key: %v (ok %v), want Rack \"\" and not ok", got, ok)
	}

	since := time.Now()
	note, err := cfm.Add(ctx, "Note", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	before = calls()
	if defs, err = s.FieldDefs(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := defs.Attributes("VirtualMachine", map[int32]string{note.Key: "hi"}); ok || calls() != before {
		t.Errorf("within the TTL: the new field known %v after %d calls, want the held load (0 calls)", ok, calls()-before)
	}
	if defs, err = s.FieldDefs(ctx, since); err != nil {
		t.Fatal(err)
	}
	got, ok = defs.Attributes("VirtualMachine", map[int32]string{note.Key: "hi"})
	if want := map[string]string{"Owner": "", "Note": "hi"}; !ok || !maps.Equal(got, want) || calls()-before != 1 {
		t.Errorf("a load begun since: %v (ok %v) after %d calls, want %v after 1", got, ok, calls()-before, want)
	}
}
