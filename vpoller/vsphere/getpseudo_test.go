package vsphere

import (
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// *.get answers the discover methods' pseudo-properties too: the VM
// template's master item reads the VM's cluster name (a VM on a standalone
// host has none) and whether its host is in maintenance mode next to its
// real properties.
func TestGetPseudoProperties(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	props := []string{"runtime.powerState", "datacenter", "cluster", "hostMaintenance"}
	get := func(method, name string) string {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: method, Name: name, Properties: props})
		if r.Msg != msgRetrieved {
			t.Fatalf("%s %s: %q", method, name, r.Msg)
		}
		return encoded(t, r)
	}
	cases := []struct{ method, name, want string }{
		{"vm.get", "DC0_C0_RP0_VM0", `[{"name": "DC0_C0_RP0_VM0", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": "DC0_C0", "hostMaintenance": "false"}]`},
		{"vm.get", "DC0_H0_VM0", `[{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": "", "hostMaintenance": "false"}]`},
		{"host.get", "DC0_C0_H1", `[{"name": "DC0_C0_H1", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": "DC0_C0", "hostMaintenance": "false"}]`},
		{"host.get", "DC0_H0", `[{"name": "DC0_H0", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": "", "hostMaintenance": "false"}]`},
	}
	for _, tc := range cases {
		if got := get(tc.method, tc.name); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.method, tc.name, got, tc.want)
		}
	}
	// Warm, cluster and hostMaintenance come from the mirror: the
	// templates' masters poll them every minute for every VM and host, so
	// they must cost vCenter nothing. (Not datacenter: its parent chain
	// runs through folders, which the mirror does not watch.)
	a := agent(t, s) // the mirror synced
	props = []string{"runtime.powerState", "cluster", "hostMaintenance"}
	before := s.Stats()
	for _, tc := range cases {
		want := strings.Replace(tc.want, `"datacenter": "DC0", `, "", 1)
		if got := get(tc.method, tc.name); got != want {
			t.Errorf("warm %s %s:\n got %s\nwant %s", tc.method, tc.name, got, want)
		}
	}
	if n, by := calls(before, s.Stats()); n != 0 {
		t.Errorf("warm gets of cluster and hostMaintenance cost %d vCenter calls %v, want 0", n, by)
	}
	props = []string{"runtime.powerState", "datacenter", "cluster", "hostMaintenance"}

	// The VM's host enters maintenance mode: the VM sees it.
	host := lookup(t, a, objects.Host, "DC0_H0")
	notify(t, a, host, "runtime.inMaintenanceMode", true)
	want := `[{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": "", "hostMaintenance": "true"}]`
	eventually(t, 10*time.Second, "the VM to see its host in maintenance", func() bool {
		return get("vm.get", "DC0_H0_VM0") == want
	})
}
