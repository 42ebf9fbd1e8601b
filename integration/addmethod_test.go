package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/plugin"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/methodsdoc"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// powerRow and powerDiscover are a method added from outside the project's
// packages with one catalogue row and one function, through the
// registration hooks (vpoller.Register, vsphere.Register).
var powerRow = vpoller.MethodInfo{Name: "host.vm.power.discover", Action: vpoller.ActionDiscover, Required: []string{vpoller.KeyName},
	Doc: vpoller.MethodDoc{Keys: "name (host)", Result: "list `[{\"name\",\"powerState\"}]`, the host's VMs sorted by name",
		Message: "Successfully discovered objects", Differences: "ours"}}

// powerDiscover lists a host's VMs with their power state, from the
// agent's store (the mirror, or one call per property set it lacks).
func powerDiscover(ctx context.Context, a *vsphere.Agent, req *vpoller.Request) *vpoller.Response {
	st := a.Store()
	host, err := st.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return vpoller.Fail(err.Error())
	}
	pv, err := st.Get(ctx, host, req.Name, []string{"vm"})
	if err != nil {
		return vpoller.Fail(err.Error())
	}
	var refs []types.ManagedObjectReference
	switch v := pv["vm"].(type) {
	case types.ArrayOfManagedObjectReference:
		refs = v.ManagedObjectReference
	case []types.ManagedObjectReference:
		refs = v
	}
	vals, err := st.GetMany(ctx, refs, []string{"name", "runtime.powerState"})
	if err != nil {
		return vpoller.Fail(err.Error())
	}
	type vm struct{ name, power string }
	var vms []vm
	for _, r := range refs {
		vms = append(vms, vm{fmt.Sprint(vals[r]["name"]), fmt.Sprint(vals[r]["runtime.powerState"])})
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].name < vms[j].name })
	out := make([]any, len(vms))
	for i, v := range vms {
		out[i] = vpoller.Object{{Key: "name", Value: v.name}, {Key: "powerState", Value: v.power}}
	}
	return vpoller.OK("Successfully discovered objects", out)
}

// TestAddedMethodEndToEnd: a method added with one row and one function
// works through the Go client, the proxy and the worker on the simulator,
// through the worker's Zabbix helper and the plugin's item keys (its
// Zabbix facts derived from the row), and is in the generated docs table:
// the docs file without its row fails the check. Without its function
// the worker does not know it.
func TestAddedMethodEndToEnd(t *testing.T) {
	const name = "host.vm.power.discover"
	undoRow, err := vpoller.Register(powerRow)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(undoRow)
	c := startChain(t)
	cl := c.client(t)
	ctx := context.Background()
	req := &vpoller.Request{Method: name, Hostname: agentName, Name: "DC0_H0"}

	r, err := cl.Call(ctx, req)
	if err != nil || r.Msg != vsphere.MsgUnknownMethod {
		t.Fatalf("a row without its function: %v %+v", err, r)
	}

	undo, err := vsphere.Register(name, powerDiscover)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(undo)

	// The client, through the proxy to the worker.
	raw, err := cl.Do(ctx, req.Encode())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "DC0_H0_VM0", "powerState": "poweredOn"}, {"name": "DC0_H0_VM1", "powerState": "poweredOn"}]}`
	if string(raw) != want {
		t.Errorf("client:\n got %s\nwant %s", raw, want)
	}
	// Required keys come from the row.
	if r, err := cl.Call(ctx, &vpoller.Request{Method: name, Hostname: agentName}); err != nil || string(r.Encode(vpoller.Python)) != `{"success": 1, "msg": "Invalid task request"}` {
		t.Errorf("without name: %v %+v", err, r)
	}
	// The worker's Zabbix helper: LLD, macros after the method's name.
	helped := *req
	helped.Helper = "vpoller.helpers.zabbix"
	raw, err = cl.Do(ctx, helped.Encode())
	if err != nil {
		t.Fatal(err)
	}
	const lldWant = `{"data": [{"{#VSPHERE.HOST.VM.POWER.NAME}": "DC0_H0_VM0", "{#VSPHERE.HOST.VM.POWER.POWERSTATE}": "poweredOn"}, {"{#VSPHERE.HOST.VM.POWER.NAME}": "DC0_H0_VM1", "{#VSPHERE.HOST.VM.POWER.POWERSTATE}": "poweredOn"}]}`
	if string(raw) != lldWant {
		t.Errorf("vpoller.helpers.zabbix:\n got %s\nwant %s", raw, lldWant)
	}

	// The plugin's item keys, against the same proxy.
	p := plugin.New()
	if err := p.Configure(agent2.GlobalOptions{Timeout: 30}, &agent2.Options{Plugin: "VPoller",
		List: []agent2.Option{{Path: []string{"Endpoint"}, Value: c.frontend, Line: 1}, {Path: []string{"Timeout"}, Value: "10", Line: 2}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	export := func(key string, params ...string) (string, error) {
		return p.Export(ctx, agent2.Request{Key: key, Params: params, Timeout: 20 * time.Second})
	}
	got, err := export("vpoller.discover", name, agentName, "DC0_H0")
	if want := `{"data":[{"{#VSPHERE.HOST.VM.POWER.NAME}":"DC0_H0_VM0","{#VSPHERE.HOST.VM.POWER.POWERSTATE}":"poweredOn"},{"{#VSPHERE.HOST.VM.POWER.NAME}":"DC0_H0_VM1","{#VSPHERE.HOST.VM.POWER.POWERSTATE}":"poweredOn"}]}`; err != nil || got != want {
		t.Errorf("vpoller.discover: %q %v\nwant %s", got, err, want)
	}
	for _, tc := range []struct {
		key    string
		params []string
		err    string
	}{
		{"vpoller.poll", []string{name, agentName, "DC0_H0", "name"}, "host.vm.power.discover is a discovery method: use vpoller.discover[host.vm.power.discover,...] (or vpoller.get[...] for the raw result)"},
		{"vpoller.discover", []string{name, agentName}, "host.vm.power.discover needs the name parameter (3rd): "},
	} {
		if _, err := export(tc.key, tc.params...); err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("%s%v: %v, want %s", tc.key, tc.params, err, tc.err)
		}
	}
	got, err = export("vpoller.get", name, agentName, "DC0_H0")
	if want := `[{"name":"DC0_H0_VM0","powerState":"poweredOn"},{"name":"DC0_H0_VM1","powerState":"poweredOn"}]`; err != nil || got != want {
		t.Errorf("vpoller.get: %q %v\nwant %s", got, err, want)
	}

	// The docs: the generated table has its row, the file does not yet.
	const line = "| `host.vm.power.discover` | name (host) | list `[{\"name\",\"powerState\"}]`, the host's VMs sorted by name | Successfully discovered objects | ours |"
	table, err := methodsdoc.Table(vpoller.Catalogue())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(table, "\n"+line+"\n") {
		t.Errorf("the generated table does not end with the new row:\n%s", table[strings.LastIndexByte(table[:len(table)-1], '\n')+1:])
	}
	doc, err := os.ReadFile("../docs/methods.md")
	if err != nil {
		t.Fatal(err)
	}
	var stale *methodsdoc.StaleError
	if err := methodsdoc.Check(doc, vpoller.Catalogue()); !errors.As(err, &stale) || len(stale.Removed) != 0 || len(stale.Added) != 1 || stale.Added[0] != line {
		t.Errorf("docs/methods.md without the row: %v, want the one added line", err)
	}
	updated, err := methodsdoc.Update(doc, vpoller.Catalogue())
	if err != nil {
		t.Fatal(err)
	}
	if err := methodsdoc.Check(updated, vpoller.Catalogue()); err != nil || !strings.Contains(string(updated), "\n"+line+"\n"+methodsdoc.End+"\n") {
		t.Errorf("regenerated docs: %v", err)
	}
}
