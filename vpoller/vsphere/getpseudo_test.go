package vsphere

import (
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// *.get answers the discover methods' pseudo-properties too: the VM
// template's master item reads the VM's datacenter and cluster names (a
// VM on a standalone host has none) next to its real properties.
func TestGetPseudoProperties(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	for _, tc := range []struct{ method, name, want string }{
		{"vm.get", "DC0_C0_RP0_VM0", `[{"name": "DC0_C0_RP0_VM0", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": "DC0_C0"}]`},
		{"vm.get", "DC0_H0_VM0", `[{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": ""}]`},
		{"host.get", "DC0_C0_H1", `[{"name": "DC0_C0_H1", "runtime.powerState": "poweredOn", "datacenter": "DC0", "cluster": "DC0_C0"}]`},
	} {
		r := exec(t, s, vpoller.Request{Method: tc.method, Name: tc.name, Properties: []string{"runtime.powerState", "datacenter", "cluster"}})
		if r.Msg != msgRetrieved {
			t.Errorf("%s %s: %q", tc.method, tc.name, r.Msg)
			continue
		}
		if got := encoded(t, r); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.method, tc.name, got, tc.want)
		}
	}
}
