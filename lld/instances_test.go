package lld

import (
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestDiscoveryPerfInstances checks the LLD macros of the perf instance
// discoveries: their prefixes come from MacroPrefix, with nothing
// special (unlike vm.disk.discover, which discovers over result[0].disk
// with prefix VM), so a template's item prototypes key on
// {#VSPHERE.VM.VDISK.INSTANCE}, {#VSPHERE.HOST.PNIC.INSTANCE}, ...
func TestDiscoveryPerfInstances(t *testing.T) {
	tests := []struct{ method, reply, want string }{
		{"vm.vdisk.discover", `{"success": 0, "msg": "m", "result": [{"instance": "scsi0:0", "label": "Hard disk 1", "capacity": 10737418240, "fileName": "[ds1] vm/vm.vmdk"}]}`,
			`{"data":[{"{#VSPHERE.VM.VDISK.INSTANCE}":"scsi0:0","{#VSPHERE.VM.VDISK.LABEL}":"Hard disk 1","{#VSPHERE.VM.VDISK.CAPACITY}":10737418240,"{#VSPHERE.VM.VDISK.FILENAME}":"[ds1] vm/vm.vmdk"}]}`},
		{"vm.vnic.discover", `{"success": 0, "msg": "m", "result": [{"instance": "4000", "label": "Network adapter 1", "macAddress": "00:50:56:01:02:03", "network": "dvportgroup-12", "connected": true}]}`,
			`{"data":[{"{#VSPHERE.VM.VNIC.INSTANCE}":"4000","{#VSPHERE.VM.VNIC.LABEL}":"Network adapter 1","{#VSPHERE.VM.VNIC.MACADDRESS}":"00:50:56:01:02:03","{#VSPHERE.VM.VNIC.NETWORK}":"dvportgroup-12","{#VSPHERE.VM.VNIC.CONNECTED}":true}]}`},
		{"host.pnic.discover", `{"success": 0, "msg": "m", "result": [{"instance": "vmnic0", "mac": "00:0c:29:81:d8:a0", "driver": "nvmxnet3", "linkSpeed": 10000}]}`,
			`{"data":[{"{#VSPHERE.HOST.PNIC.INSTANCE}":"vmnic0","{#VSPHERE.HOST.PNIC.MAC}":"00:0c:29:81:d8:a0","{#VSPHERE.HOST.PNIC.DRIVER}":"nvmxnet3","{#VSPHERE.HOST.PNIC.LINKSPEED}":10000}]}`},
		{"host.datastore.discover", `{"success": 0, "msg": "m", "result": [{"instance": "5a3b4c5d-e6f7a8b9", "name": "datastore1", "url": "ds:///vmfs/volumes/5a3b4c5d-e6f7a8b9/", "moref": "datastore-15"}]}`,
			`{"data":[{"{#VSPHERE.HOST.DATASTORE.INSTANCE}":"5a3b4c5d-e6f7a8b9","{#VSPHERE.HOST.DATASTORE.NAME}":"datastore1","{#VSPHERE.HOST.DATASTORE.URL}":"ds:///vmfs/volumes/5a3b4c5d-e6f7a8b9/","{#VSPHERE.HOST.DATASTORE.MOREF}":"datastore-15"}]}`},
		{"host.lun.discover", `{"success": 0, "msg": "m", "result": [{"instance": "naa.600508b1", "displayName": "HPE Disk", "vendor": "HPE", "model": "LOGICAL VOLUME", "capacity": 0}]}`,
			`{"data":[{"{#VSPHERE.HOST.LUN.INSTANCE}":"naa.600508b1","{#VSPHERE.HOST.LUN.DISPLAYNAME}":"HPE Disk","{#VSPHERE.HOST.LUN.VENDOR}":"HPE","{#VSPHERE.HOST.LUN.MODEL}":"LOGICAL VOLUME","{#VSPHERE.HOST.LUN.CAPACITY}":0}]}`},
		{"vm.vnic.discover", `{"success": 0, "msg": "m", "result": []}`, `{"data":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			got, err := Discovery(&vpoller.Request{Method: tt.method}, decode(t, tt.reply), vpoller.Compact)
			if err != nil || string(got) != tt.want {
				t.Errorf("got %s, %v\nwant %s", got, err, tt.want)
			}
		})
	}
	for _, m := range []string{"vm.vdisk.discover", "vm.vnic.discover", "host.pnic.discover", "host.datastore.discover", "host.lun.discover"} {
		if k, ok := Lookup(m); !ok || k.Helper != KindLLD || k.Plugin != KindLLD {
			t.Errorf("%s: %+v, want LLD for the helper and the plugin", m, k)
		}
	}
}
