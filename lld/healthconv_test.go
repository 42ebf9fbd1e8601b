package lld

import (
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// The license, certificate, appliance and vSAN methods through the Zabbix
// conversions the plugin applies (vpoller.discover, vpoller.poll), on
// replies of the shapes the worker gives (vsphere's snapshotmethods tests).
func TestLicenseCertApplianceVsanConversions(t *testing.T) {
	lic := vpoller.OK("Successfully retrieved licenses", []any{vpoller.Object{
		{Key: "key", Value: "*****-*****-*****-*****-4F2A1"}, {Key: "name", Value: "vSphere 8 Enterprise Plus"},
		{Key: "total", Value: int64(4)}, {Key: "used", Value: int64(6)},
	}})
	got, err := Discovery(&vpoller.Request{Method: "license.discover"}, lic, vpoller.Python)
	want := `{"data": [{"{#VSPHERE.LICENSE.KEY}": "*****-*****-*****-*****-4F2A1", "{#VSPHERE.LICENSE.NAME}": "vSphere 8 Enterprise Plus", ` +
		`"{#VSPHERE.LICENSE.TOTAL}": 4, "{#VSPHERE.LICENSE.USED}": 6}]}`
	if err != nil || string(got) != want {
		t.Errorf("license.discover: %s, %v\nwant %s", got, err, want)
	}
	vsan := vpoller.OK("Successfully discovered objects", []any{vpoller.Object{{Key: "name", Value: "DC0_C0"}, {Key: "moref", Value: "domain-c28"}}})
	got, err = Discovery(&vpoller.Request{Method: "vsan.cluster.discover"}, vsan, vpoller.Python)
	want = `{"data": [{"{#VSPHERE.VSAN.CLUSTER.NAME}": "DC0_C0", "{#VSPHERE.VSAN.CLUSTER.MOREF}": "domain-c28"}]}`
	if err != nil || string(got) != want {
		t.Errorf("vsan.cluster.discover: %s, %v\nwant %s", got, err, want)
	}
	cert := vpoller.OK("Successfully retrieved certificate", []any{vpoller.Object{{Key: "name", Value: "esx01"}, {Key: "daysLeft", Value: 10.04}}})
	v, err := Item(&vpoller.Request{Method: "host.certificate.get", Name: "esx01", Properties: []string{"daysLeft"}}, cert)
	if err != nil || v != 10.04 {
		t.Errorf("host.certificate.get daysLeft: %v, %v", v, err)
	}
	for _, m := range []string{"appliance.service.discover", "license.discover", "vsan.cluster.discover"} {
		if k, ok := Lookup(m); !ok || !k.IsDiscovery() {
			t.Errorf("%s is not a discovery: %+v", m, k)
		}
	}
	for _, m := range []string{"host.license.get", "host.certificate.get", "vcenter.certificate.get", "appliance.health.get", "vsan.cluster.get"} {
		if k, ok := Lookup(m); !ok || !k.IsItem() {
			t.Errorf("%s is not an item: %+v", m, k)
		}
	}
}
