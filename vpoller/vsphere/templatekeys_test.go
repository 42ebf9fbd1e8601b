package vsphere

import (
	"regexp"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/templates"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// TestVCenterHealthTemplateKeysResolve sends every vpoller.get/vpoller.discover
// key of the vCenter and Hypervisor templates that uses a license,
// certificate, appliance or vSAN method to the simulator given the data
// server-side (macros replaced as discovery and the host would), and
// checks that each dependent item's field is in the reply: what e2e
// shows as values on a real vCenter, short of Zabbix itself.
func TestVCenterHealthTemplateKeysResolve(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simLicensesAndHealth(t))
	a := agent(t, s)
	ours := map[string]bool{"license.discover": true, "host.license.get": true, "host.certificate.get": true,
		"vcenter.certificate.get": true, "appliance.health.get": true, "vsan.cluster.discover": true, "vsan.cluster.get": true}
	macros := strings.NewReplacer(
		"{$VSPHERE.HV.NAME}", lookup(t, a, objects.Host, simCertHost).Value,
		"{#VSPHERE.VSAN.CLUSTER.MOREF}", lookup(t, a, objects.Cluster, simVsanCluster).Value,
		"{#VSPHERE.LICENSE.KEY}", simLicenseMask)
	var items []templates.Item
	var rules []string
	for _, tpl := range []templates.Template{templates.VCenter(), templates.Hypervisor()} {
		items = append(items, tpl.Items...)
		for _, r := range tpl.DiscoveryRules {
			rules = append(rules, r.Key)
			items = append(items, r.ItemPrototypes...)
		}
	}
	replies := map[string]*vpoller.Response{}
	ask := func(key string) *vpoller.Response {
		if r, ok := replies[key]; ok {
			return r
		}
		k, err := lld.ParseItemKey(key)
		if err != nil || len(k.Params) == 0 || !ours[k.Params[0]] {
			return nil
		}
		req := vpoller.Request{Method: k.Params[0]}
		if len(k.Params) > 2 {
			req.Name = macros.Replace(k.Params[2])
		}
		r := exec(t, s, req)
		if r.Success != 0 {
			t.Errorf("%s: %s", key, r.Encode(vpoller.Python))
		}
		replies[key] = r
		return r
	}
	for _, key := range rules {
		ask(key)
	}
	filter := regexp.MustCompile(`^\$\[\?\(@\.key=='([^']*)'\)\]\.([A-Za-z]+)\.first\(\)$`)
	first := regexp.MustCompile(`^\$\[0\]\['([^']+)'\]$`)
	checked := 0
	for _, it := range items {
		if it.MasterItem == nil {
			ask(it.Key)
			continue
		}
		r := ask(it.MasterItem.Key)
		if r == nil || r.Success != 0 || len(it.Preprocessing) == 0 {
			continue
		}
		list, _ := r.Result.([]any)
		step := it.Preprocessing[0]
		var obj any
		var fieldName string
		switch p := macros.Replace(step.Parameters[0]); {
		case step.Type == "JAVASCRIPT":
			continue
		case filter.MatchString(p):
			m := filter.FindStringSubmatch(p)
			for _, x := range list {
				if field(x, "key") == m[1] {
					obj = x
				}
			}
			fieldName = m[2]
		case first.MatchString(p):
			if len(list) > 0 {
				obj = list[0]
			}
			fieldName = first.FindStringSubmatch(p)[1]
		default:
			t.Errorf("%s: preprocessing %q of a shape this test does not know", it.Key, p)
			continue
		}
		o, _ := obj.(vpoller.Object)
		if _, ok := o.Get(fieldName); !ok {
			t.Errorf("%s: field %q not in the reply of %s: %s", it.Key, fieldName, it.MasterItem.Key, r.Encode(vpoller.Python))
		}
		checked++
	}
	if checked < 30 {
		t.Errorf("only %d dependent items checked", checked)
	}
}
