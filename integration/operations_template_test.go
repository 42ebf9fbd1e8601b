package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/plugin"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/templates"
)

// operationsMethods are the methods of the storage path, service, backup,
// license, certificate, appliance and vSAN template items.
var operationsMethods = []string{"host.path.discover", "host.service.get", "host.ntp.get", "host.time.get", "vm.backup.get", "datastore.space.get",
	"license.discover", "host.license.get", "host.certificate.get", "vcenter.certificate.get", "appliance.health.get", "vsan.cluster.discover", "vsan.cluster.get"}

func usesOperationsMethod(key string) bool {
	for _, m := range operationsMethods {
		if strings.Contains(key, "["+m+",") {
			return true
		}
	}
	return false
}

// Zabbix JSONPath in the two shapes those items use:
// $[0]['prop'] and $[?(@.field=='value')].field2.first().
var (
	jpFirst  = regexp.MustCompile(`^\$\[0\]\['([^']+)'\]$`)
	jpFilter = regexp.MustCompile(`^\$\[\?\(@\.([A-Za-z]+)=='([^']*)'\)\]\.([A-Za-z]+)\.first\(\)$`)
)

// jsonPath evaluates path on a master item's JSON as Zabbix does for
// those shapes: a scalar as its JSON text without quotes for strings.
func jsonPath(raw, path string) (string, error) {
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return "", fmt.Errorf("master value %q: %w", raw, err)
	}
	var v any
	found := false
	if m := jpFirst.FindStringSubmatch(path); m != nil {
		if len(list) > 0 {
			v, found = list[0][m[1]]
		}
	} else if m := jpFilter.FindStringSubmatch(path); m != nil {
		for _, o := range list {
			if fmt.Sprint(o[m[1]]) == m[2] {
				v, found = o[m[3]]
				break
			}
		}
	} else {
		return "", fmt.Errorf("JSONPath %q: a shape this test does not know", path)
	}
	if !found {
		return "", fmt.Errorf("JSONPath %q: no data", path)
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}

// TestPathsServicesBackupItemsOnTheSimulator runs every template item of the
// storage path, service, backup, license, certificate, appliance and vSAN
// methods (vCenter, hypervisor, VM, datastore) through the plugin and the
// chain against the simulator, as Zabbix would: user macros replaced by
// the template's defaults and one discovered object, discovery rules
// expanded with their first row, dependent items' JSONPath applied to
// their master's value. Each must give a value (the e2e test's condition)
// unless it is tagged optional; some values are asserted.
func TestPathsServicesBackupItemsOnTheSimulator(t *testing.T) {
	c := startChain(t)
	p := plugin.New()
	if err := p.Configure(agent2.GlobalOptions{Timeout: 15}, &agent2.Options{Plugin: "VPoller",
		List: []agent2.Option{{Path: []string{"Endpoint"}, Value: c.frontend, Line: 1}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	export := func(key string) (string, error) {
		k, err := lld.ParseItemKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return p.Export(context.Background(), agent2.Request{Key: k.Name, Params: k.Params, Timeout: 15 * time.Second})
	}
	dsURL, err := export("vpoller.poll[datastore.get," + agentName + ",LocalDS_0,info.url]")
	if err != nil {
		t.Fatal(err)
	}

	objects := map[string]string{"{$VSPHERE.HV.NAME}": "DC0_H0", "{$VSPHERE.VM.NAME}": "DC0_H0_VM0", "{$VSPHERE.DATASTORE.URL}": dsURL}
	want := map[string]string{ // values of the simulator's stock objects
		"vsphere.hv.service.ssh": "false", "vsphere.hv.service.shell": "false", "vsphere.hv.ntp.configured": "false",
		"vsphere.hv.ntp.running": "false", "vsphere.hv.ntp.servers": "",
		"vsphere.hv.lun.paths.paths[mpx.vmhba0:C0:T0:L0]": "1", "vsphere.hv.lun.paths.active[mpx.vmhba0:C0:T0:L0]": "1",
		"vsphere.hv.lun.paths.dead[mpx.vmhba0:C0:T0:L0]": "0", "vsphere.hv.lun.paths.states[mpx.vmhba0:C0:T0:L0]": "vmhba0:C0:T0:L0=active",
		"vsphere.vm.cbt": "false", "vsphere.vm.snapshot.size": "0", "vsphere.vm.backup.last": "0", "vsphere.vm.backup.age": "-1",
		// The simulator's evaluation license (key masked) and the
		// certificate its TLS server and hosts present (to year 2084).
		"vsphere.license.edition[*****-*****-*****-*****-00000]": "eval", "vsphere.license.expiration[*****-*****-*****-*****-00000]": "0",
		"vsphere.hv.license.name": "Evaluation Mode", "vsphere.hv.license.key": "*****-*****-*****-*****-00000",
		"vsphere.vc.cert.not.after": "3600000000", "vsphere.vc.cert.subject": "O=Acme Co",
		"vsphere.hv.cert.not.after": "3600000000", "vsphere.hv.cert.issuer": "O=Acme Co",
	}
	checked, asserted := 0, 0
	for _, tpl := range []templates.Template{templates.VCenter(), templates.Hypervisor(), templates.VirtualMachine(), templates.Datastore()} {
		pairs := []string{"{$VSPHERE.HOST}", agentName}
		for m, v := range objects {
			pairs = append(pairs, m, v)
		}
		for _, m := range tpl.Macros {
			if _, ok := objects[m.Macro]; !ok && m.Macro != "{$VSPHERE.HOST}" {
				pairs = append(pairs, m.Macro, m.Value)
			}
		}
		macros := strings.NewReplacer(pairs...)

		values := map[string]string{} // key with macros -> master value
		run := func(items []templates.Item, lld *strings.Replacer) {
			for _, it := range items {
				key := lld.Replace(it.Key)
				optional := false
				for _, tg := range it.Tags {
					optional = optional || tg.Tag == templates.TagOptional
				}
				var v string
				var err error
				switch {
				case it.Type == "DEPENDENT":
					master, ok := values[lld.Replace(it.MasterItem.Key)]
					if !ok {
						continue // not a master of theirs
					}
					v, err = master, nil
					for _, s := range it.Preprocessing {
						if s.Type != "JSONPATH" {
							continue
						}
						v, err = jsonPath(master, lld.Replace(s.Parameters[0]))
						if err != nil && s.ErrorHandler == "CUSTOM_VALUE" {
							v, err = s.ErrorHandlerParams, nil
						}
					}
				case usesOperationsMethod(it.Key):
					v, err = export(macros.Replace(key))
					values[key] = v
				default:
					continue
				}
				checked++
				if err != nil && !optional {
					t.Errorf("%s: %s: %v", tpl.Name, key, err)
				}
				if w, ok := want[key]; ok {
					asserted++
					if v != w || err != nil {
						t.Errorf("%s: %s = %q (%v), want %q", tpl.Name, key, v, err, w)
					}
				}
			}
		}
		run(tpl.Items, strings.NewReplacer())
		for _, r := range tpl.DiscoveryRules {
			if !usesOperationsMethod(r.Key) {
				continue
			}
			out, err := export(macros.Replace(r.Key))
			checked++
			var d struct {
				Data []map[string]any `json:"data"`
			}
			if err != nil || json.Unmarshal([]byte(out), &d) != nil {
				t.Errorf("%s: rule %s: %q, %v", tpl.Name, r.Key, out, err)
				continue
			}
			if len(d.Data) == 0 {
				// The stock simulator has no vSAN cluster: an empty
				// discovery, as Zabbix gets it; every other rule finds one.
				if !strings.Contains(r.Key, "[vsan.cluster.discover,") {
					t.Errorf("%s: rule %s discovered nothing: %q", tpl.Name, r.Key, out)
				}
				continue
			}
			var lpairs []string
			for m, v := range d.Data[0] {
				lpairs = append(lpairs, m, fmt.Sprint(v))
			}
			run(r.ItemPrototypes, strings.NewReplacer(lpairs...))
		}
	}
	// host.time.get is the one optional item (the simulator has no date/time system).
	if checked < 20 || asserted != len(want) {
		t.Errorf("%d items checked, %d of %d values asserted", checked, asserted, len(want))
	}
	// Datastore provisioning: used + uncommitted against capacity.
	if v, err := export("vpoller.poll[datastore.space.get," + agentName + "," + dsURL + ",provisionedPct]"); err != nil || v == "" || v == "0" {
		t.Errorf("provisionedPct %q, %v", v, err)
	}
}
