package vsphere

import (
	"context"
	"errors"
	"testing"
	"time"

	govobj "github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// setField defines custom field name for moType ("" for every type) if it
// is new, and sets it on ref, through a second client as another vSphere
// user would. The simulator does not tell its property collectors about
// the new value, which vCenter does: setField tells them.
func setField(t testing.TB, a *Agent, ref types.ManagedObjectReference, name, moType, value string) {
	t.Helper()
	ctx := context.Background()
	cfm, err := govobj.GetCustomFieldsManager(admin(t, a).Client)
	if err != nil {
		t.Fatal(err)
	}
	key, err := cfm.FindKey(ctx, name)
	if errors.Is(err, govobj.ErrKeyNameNotFound) {
		def, aerr := cfm.Add(ctx, name, moType, nil, nil)
		if aerr != nil {
			t.Fatal(aerr)
		}
		key, err = def.Key, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := cfm.Set(ctx, ref, key, value); err != nil {
		t.Fatal(err)
	}
	entity := a.Simulator().Model().Map().Get(ref).(mo.Entity).Entity()
	notify(t, a, ref, "customValue", append([]types.BaseCustomFieldValue(nil), entity.CustomValue...))
	// customValue is watched from the start (the templates poll it): the
	// mirror has the value within its freshness bound, not at once.
	eventually(t, 10*time.Second, "customValue in the mirror", func() bool {
		v, err := a.store.Get(ctx, ref, ref.Value, []string{"customValue"})
		return err == nil && objects.CustomValues(v)[key] == value
	})
}

// defineField defines a custom field without setting it anywhere.
func defineField(t testing.TB, a *Agent, name, moType string) {
	t.Helper()
	cfm, err := govobj.GetCustomFieldsManager(admin(t, a).Client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfm.Add(context.Background(), name, moType, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestAttributes: custom attributes set by another user come back by
// field name, for VMs and hosts, all of them or the ones asked for; a
// field defined after the definitions were cached resolves at once; an
// unknown object or attribute is an error.
func TestAttributes(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	vm, host := lookup(t, a, objects.VM, "DC0_H0_VM0"), lookup(t, a, objects.Host, "DC0_H0")
	setField(t, a, vm, "Owner", "VirtualMachine", "alice")
	setField(t, a, vm, "Note", "", "hello, world")
	setField(t, a, host, "Rack", "HostSystem", "r12")

	for _, tc := range []struct {
		req  vpoller.Request
		want string
	}{
		{vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0"}, `[{"Note": "hello, world", "Owner": "alice"}]`},
		{vpoller.Request{Method: "vm.attribute.get", Name: vm.Value}, `[{"Note": "hello, world", "Owner": "alice"}]`},
		{vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM1"}, `[{"Note": "", "Owner": ""}]`},
		{vpoller.Request{Method: "host.attribute.get", Name: "DC0_H0"}, `[{"Note": "", "Rack": "r12"}]`},
		{vpoller.Request{Method: "host.attribute.get", Name: "DC0_C0_H0"}, `[{"Note": "", "Rack": ""}]`},
		{vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0", Properties: []string{"Owner"}}, `[{"Owner": "alice"}]`},
		{vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0", Key: "Note"}, `[{"Note": "hello, world"}]`},
		{vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0", Key: "Note", Properties: []string{"Owner", "Note"}}, `[{"Note": "hello, world", "Owner": "alice"}]`},
	} {
		r := exec(t, s, tc.req)
		if r.Msg != msgAttributes {
			t.Errorf("%s %s: msg %q", tc.req.Method, tc.req.Name, r.Msg)
		}
		if got := encoded(t, r); got != tc.want {
			t.Errorf("%s %s key %q props %v:\n got %s\nwant %s", tc.req.Method, tc.req.Name, tc.req.Key, tc.req.Properties, got, tc.want)
		}
	}

	// vpoller.poll's single value: the property parameter names the attribute.
	req := &vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0", Properties: []string{"Owner"}}
	if v, err := lld.Item(req, exec(t, s, *req)); v != "alice" || err != nil {
		t.Errorf("poll value %#v, %v", v, err)
	}

	for _, tc := range []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Method: "vm.attribute.get", Name: "nosuch"}, "Cannot find object nosuch"},
		{vpoller.Request{Method: "host.attribute.get", Name: "DC0_H0_VM0"}, "Cannot find object DC0_H0_VM0"},
		{vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0", Properties: []string{"Nosuch"}}, "Cannot find custom attribute Nosuch"},
		{vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0", Key: "Rack"}, "Cannot find custom attribute Rack"}, // a host field
	} {
		r := exec(t, s, tc.req)
		if r.Success != 1 || r.Msg != tc.msg {
			t.Errorf("%s %s: %s, want failure %q", tc.req.Method, tc.req.Name, r.Encode(vpoller.Python), tc.msg)
		}
	}

	// Defined after the definitions were cached: named, it resolves at once.
	defineField(t, a, "Backup", "VirtualMachine")
	r := exec(t, s, vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM1", Properties: []string{"Backup"}})
	if got := encoded(t, r); got != `[{"Backup": ""}]` {
		t.Errorf("new field, unset: %s", got)
	}
	// Set on an object whose customValue the mirror watches: the new key
	// resolves as soon as the value arrives.
	setField(t, a, vm, "Cost centre", "VirtualMachine", "cc-42")
	eventually(t, 10*time.Second, "new field's value", func() bool {
		r := exec(t, s, vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0"})
		return r.Success == 0 && encoded(t, r) == `[{"Backup": "", "Cost centre": "cc-42", "Note": "hello, world", "Owner": "alice"}]`
	})

	// Warm: the values come from the mirror (customValue is watched from
	// the start), the definitions from the cache: no call.
	eventually(t, 10*time.Second, "a warm vm.attribute.get without calls", func() bool {
		before := a.sess.Stats()
		exec(t, s, vpoller.Request{Method: "vm.attribute.get", Name: "DC0_H0_VM0", Properties: []string{"Owner"}})
		return len(soapCalls(before, a.sess.Stats())) == 0
	})
}
