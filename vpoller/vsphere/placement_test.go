package vsphere

import (
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// TestDiscoverPseudoProperties asks every object discovery for moref,
// datacenter and cluster and checks them against the simulator's model:
// the managed object id (which *.get accepts as the name), the datacenter
// and the cluster ("" where there is none), in the requested order after
// name, mixed with a real property.
func TestDiscoverPseudoProperties(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := agent(t, s)
	cases := []struct {
		method string
		kind   *objects.Kind
		get    string
		want   map[string]string // name -> "datacenter/cluster"
	}{
		{"vm.discover", objects.VM, "vm.get", map[string]string{
			"DC0_H0_VM0": "DC0/", "DC0_H0_VM1": "DC0/", "DC0_C0_RP0_VM0": "DC0/DC0_C0", "DC0_C0_RP0_VM1": "DC0/DC0_C0"}},
		{"host.discover", objects.Host, "host.get", map[string]string{
			"DC0_H0": "DC0/", "DC0_C0_H0": "DC0/DC0_C0", "DC0_C0_H1": "DC0/DC0_C0", "DC0_C0_H2": "DC0/DC0_C0"}},
		{"datastore.discover", objects.Datastore, "datastore.get", map[string]string{"LocalDS_0": "DC0/"}},
		{"cluster.discover", objects.Cluster, "cluster.get", map[string]string{"DC0_C0": "DC0/"}},
		{"datacenter.discover", objects.Datacenter, "datacenter.get", map[string]string{"DC0": "/"}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			r := exec(t, s, vpoller.Request{Method: c.method, Properties: []string{"cluster", "overallStatus", "moref", "datacenter"}})
			if r.Success != 0 {
				t.Fatal(string(r.Encode(vpoller.Python)))
			}
			got := map[string]string{}
			for _, x := range r.Result.([]any) {
				name := field(x, "name").(string)
				if k := keysOf(x); k != "name,cluster,overallStatus,moref,datacenter" {
					t.Errorf("%s: keys %s", name, k)
				}
				got[name] = field(x, "datacenter").(string) + "/" + field(x, "cluster").(string)
				id := field(x, "moref").(string)
				if ref := lookup(t, a, c.kind, name); ref.Value != id {
					t.Errorf("%s: moref %q, want %q", name, id, ref.Value)
				}
				// The id names the object for *.get.
				g := exec(t, s, vpoller.Request{Method: c.get, Name: id, Properties: []string{"name"}})
				if g.Success != 0 || field(g.Result.([]any)[0], "name") != name {
					t.Errorf("%s %s: %s", c.get, id, g.Encode(vpoller.Python))
				}
			}
			for n, w := range c.want {
				if got[n] != w {
					t.Errorf("%s: datacenter/cluster %q, want %q (all: %v)", n, got[n], w, got)
				}
			}
		})
	}
	// Resource pools: those of the cluster name it, the standalone host's
	// does not.
	r := exec(t, s, vpoller.Request{Method: "resource.pool.discover", Properties: []string{"moref", "cluster", "datacenter"}})
	if r.Success != 0 {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	var pools []string
	for _, x := range r.Result.([]any) {
		id := field(x, "moref").(string)
		if !strings.HasPrefix(id, "resgroup-") {
			t.Errorf("pool id %q", id)
		}
		pools = append(pools, field(x, "datacenter").(string)+"/"+field(x, "cluster").(string))
	}
	if strings.Join(pools, " ") != "DC0/ DC0/DC0_C0" && strings.Join(pools, " ") != "DC0/DC0_C0 DC0/" {
		t.Errorf("pools: %v", pools)
	}
	// Without pseudo-properties the reply is as before.
	r = exec(t, s, vpoller.Request{Method: "vm.discover", Properties: []string{"overallStatus"}})
	if k := keysOf(r.Result.([]any)[0]); k != "name,overallStatus" {
		t.Errorf("plain discovery: keys %s", k)
	}
}
