package vsphere

import (
	"context"
	"slices"
	"sort"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// hostVMPowerRow and hostVMPowerDiscover are a method added the way
// docs/architecture.md says: one catalogue row and one function. The
// integration tests take the same method through the client, the proxy,
// the plugin and the docs generator.
var hostVMPowerRow = vpoller.MethodInfo{Name: "host.vm.power.discover", Action: vpoller.ActionDiscover, Required: []string{vpoller.KeyName},
	Doc: vpoller.MethodDoc{Keys: "name (host)", Result: "list `[{\"name\",\"powerState\"}]`, the host's VMs sorted by name", Message: msgDiscovered, Differences: "ours"}}

// hostVMPowerDiscover lists a host's VMs with their power state.
func hostVMPowerDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	refs, _, err := related(ctx, a, objects.Host, req, "vm")
	if err != nil {
		return fail(req, err)
	}
	vals, err := a.store.GetMany(ctx, refs, []string{pathName, "runtime.powerState"})
	if err != nil {
		return fail(req, err)
	}
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		pv := vals[r]
		out = append(out, vpoller.Object{{Key: "name", Value: toValue(pv[pathName])}, {Key: "powerState", Value: toValue(pv["runtime.powerState"])}})
	}
	sort.Slice(out, func(i, j int) bool { return field(out[i], "name").(string) < field(out[j], "name").(string) })
	return vpoller.OK(msgDiscovered, out)
}

// TestRegisterOneRowOneFunction: a row without a function is a method
// the worker does not serve, which TestAllMethods' check (Unbound) names;
// with its function bound it runs against the simulator like the
// registry's methods, its required keys checked from the row.
func TestRegisterOneRowOneFunction(t *testing.T) {
	s := newSim(t, Options{})
	agent(t, s)
	const name = "host.vm.power.discover"
	undoRow, err := vpoller.Register(hostVMPowerRow)
	if err != nil {
		t.Fatal(err)
	}
	defer undoRow()
	if u := Unbound(); !slices.Equal(u, []string{name}) {
		t.Errorf("Unbound() = %v, want the new row", u)
	}
	if r := exec(t, s, vpoller.Request{Method: name, Name: "DC0_H0"}); r.Msg != MsgUnknownMethod {
		t.Errorf("without its function: %s", r.Encode(vpoller.Python))
	}

	for _, tc := range []struct {
		method string
		h      Handler
		want   string
	}{
		{name, nil, "method host.vm.power.discover: no handler"},
		{"no.such.get", hostVMPowerDiscover, "method no.such.get: not in the catalogue (vpoller.Register adds a row)"},
		{"vm.get", hostVMPowerDiscover, "method vm.get: already has a handler"},
	} {
		if _, err := Register(tc.method, tc.h); err == nil || err.Error() != tc.want {
			t.Errorf("Register(%s): %v, want %s", tc.method, err, tc.want)
		}
	}

	undo, err := Register(name, hostVMPowerDiscover)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Register(name, hostVMPowerDiscover); err == nil || err.Error() != "method host.vm.power.discover: already has a handler" {
		t.Errorf("second Register: %v", err)
	}
	if u := Unbound(); len(u) != 0 {
		t.Errorf("Unbound() = %v with the function bound", u)
	}
	for _, tc := range []struct {
		req  vpoller.Request
		want string
	}{
		{vpoller.Request{Method: name, Name: "DC0_H0"},
			`{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "DC0_H0_VM0", "powerState": "poweredOn"}, {"name": "DC0_H0_VM1", "powerState": "poweredOn"}]}`},
		{vpoller.Request{Method: name}, `{"success": 1, "msg": "Invalid task request"}`},
		{vpoller.Request{Method: name, Name: "nohost"}, `{"success": 1, "msg": "Cannot find object nohost"}`},
	} {
		if got := string(exec(t, s, tc.req).Encode(vpoller.Python)); got != tc.want {
			t.Errorf("%s %q: %s\nwant %s", tc.req.Method, tc.req.Name, got, tc.want)
		}
	}
	undo()
	if r := exec(t, s, vpoller.Request{Method: name, Name: "DC0_H0"}); r.Msg != MsgUnknownMethod {
		t.Errorf("after unbinding: %s", r.Encode(vpoller.Python))
	}
	undoRow()
	if u := Unbound(); len(u) != 0 {
		t.Errorf("Unbound() = %v after removing the row", u)
	}
}
