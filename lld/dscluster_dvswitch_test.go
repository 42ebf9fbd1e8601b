package lld

import (
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestDiscoveryDatastoreClusterAndDVSwitch checks the LLD macros of the
// datastore cluster and distributed switch methods: their prefixes come
// from MacroPrefix, with nothing special.
func TestDiscoveryDatastoreClusterAndDVSwitch(t *testing.T) {
	tests := []struct{ method, reply, want string }{
		{"datastore.cluster.discover", `{"success": 0, "msg": "m", "result": [{"name": "DC0_POD0"}]}`,
			`{"data":[{"{#VSPHERE.DATASTORE.CLUSTER.NAME}":"DC0_POD0"}]}`},
		{"datastore.cluster.datastore.get", `{"success": 0, "msg": "m", "result": [{"name": "LocalDS_0", "info.url": "ds:///vmfs/volumes/1/"}]}`,
			`{"data":[{"{#VSPHERE.DATASTORE.CLUSTER.DATASTORE.NAME}":"LocalDS_0","{#VSPHERE.DATASTORE.CLUSTER.DATASTORE.INFO.URL}":"ds:///vmfs/volumes/1/"}]}`},
		{"dvswitch.discover", `{"success": 0, "msg": "m", "result": [{"name": "DVS0"}]}`,
			`{"data":[{"{#VSPHERE.DVSWITCH.NAME}":"DVS0"}]}`},
		{"dvswitch.port.get", `{"success": 0, "msg": "m", "result": [{"key": "7", "portgroup": "DC0_DVPG0", "connectee": null, "linkUp": true}]}`,
			`{"data":[{"{#VSPHERE.DVSWITCH.PORT.KEY}":"7","{#VSPHERE.DVSWITCH.PORT.PORTGROUP}":"DC0_DVPG0","{#VSPHERE.DVSWITCH.PORT.CONNECTEE}":null,"{#VSPHERE.DVSWITCH.PORT.LINKUP}":true}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			got, err := Discovery(&vpoller.Request{Method: tt.method}, decode(t, tt.reply), vpoller.Compact)
			if err != nil || string(got) != tt.want {
				t.Errorf("got %s, %v\nwant %s", got, err, tt.want)
			}
		})
	}
	for _, m := range []string{"datastore.cluster.get", "dvswitch.get"} {
		if k, _ := Lookup(m); k.Helper != KindItem || k.Plugin != KindItem {
			t.Errorf("%s: %+v, want an item", m, k)
		}
	}
}
