package templates

import (
	"regexp"
	"strings"
	"testing"
)

// Result shapes of the fixed-shape methods the per-object templates read
// (docs/methods.md), added to the shared table of templates_test.go.
func init() {
	alarm := fixedFields["datacenter.alarm.get"]
	for _, k := range []string{"vm", "host", "datastore", "cluster"} {
		fixedFields[k+".alarm.get"] = alarm
		fixedFields[k+".tag.get"] = []string{"category", "tag", "description"}
	}
	fixedFields["host.sensor.discover"] = []string{"name", "sensorType", "healthState"}
	fixedFields["host.health.get"] = []string{"name", "overallStatus", "hardwareStatus", "sensors", "green", "yellow", "red", "unknown"}
}

func templateNamed(t *testing.T, name string) doc {
	t.Helper()
	for _, d := range loadFiles(t) {
		for _, tpl := range templatesOf(d) {
			if str(tpl["template"]) == name {
				return tpl
			}
		}
	}
	t.Fatalf("template %q not found", name)
	return nil
}

// Every value map a template defines is used by one of its items or item
// prototypes, and every item's value map is defined in its template
// (Zabbix refuses an import naming a missing one).
func TestValueMapsDefinedAndUsed(t *testing.T) {
	used := 0
	for name, d := range loadFiles(t) {
		for _, tpl := range templatesOf(d) {
			defined := map[string]bool{}
			for _, v := range list(tpl["valuemaps"]) {
				defined[str(m(v)["name"])] = true
			}
			refd := map[string]bool{}
			for _, r := range itemsOf(tpl) {
				vm := str(m(r.item["valuemap"])["name"])
				if vm == "" {
					continue
				}
				used++
				refd[vm] = true
				if !defined[vm] {
					t.Errorf("%s: item %s uses value map %q, not defined in the template", name, str(r.item["key"]), vm)
				}
			}
			for vm := range defined {
				if !refd[vm] {
					t.Errorf("%s: value map %q is used by no item", name, vm)
				}
			}
		}
	}
	if used < 20 {
		t.Errorf("only %d items with value maps", used)
	}
}

// Each numeric state item (.num) has a text twin on the same master that
// still exists, so that users keep the text items' history and triggers.
func TestNumericStatesKeepTextItems(t *testing.T) {
	n := 0
	for name, d := range loadFiles(t) {
		for _, tpl := range templatesOf(d) {
			items := map[string]doc{}
			for _, r := range itemsOf(tpl) {
				items[str(r.item["key"])] = r.item
			}
			for k, it := range items {
				text, ok := strings.CutSuffix(k, ".num")
				if _, state := stateMaps[str(m(it["valuemap"])["name"])]; !ok || !state {
					continue
				}
				n++
				tw, ok := items[text]
				if !ok {
					t.Errorf("%s: %s has no text item %s", name, k, text)
					continue
				}
				if str(m(tw["master_item"])["key"]) != str(m(it["master_item"])["key"]) {
					t.Errorf("%s: %s and %s read different masters", name, k, text)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d numeric state items", n)
	}
}

// The VM, hypervisor, datastore and cluster alarm discoveries keep only
// the object's own alarms: a filter on the entity macro matching the
// object's vSphere name (the *.ENTITY macro discovery keeps current; the
// *.NAME macros hold the stable id) literally (names with regular expression characters
// included), so an alarm vCenter propagates up is raised once. The
// datacenter keeps all. Every alarm status prototype has a HIGH trigger on
// red and a WARNING one on yellow.
func TestAlarmDiscoveries(t *testing.T) {
	cases := []struct {
		tpl, method, nameMacro string
	}{
		{TplVM, "vm.alarm.get", MacroVMEntity},
		{TplHypervisor, "host.alarm.get", MacroHVEntity},
		{TplDatastore, "datastore.alarm.get", "{$VSPHERE.DATASTORE.NAME}"},
		{TplCluster, "cluster.alarm.get", MacroClusterEntity},
		{TplDatacenter, "datacenter.alarm.get", ""},
	}
	for _, c := range cases {
		tpl := templateNamed(t, c.tpl)
		var rule doc
		for _, r := range list(tpl["discovery_rules"]) {
			if strings.HasPrefix(str(m(r)["key"]), "vpoller.discover["+c.method+",") {
				rule = m(r)
			}
		}
		if rule == nil {
			t.Errorf("%s: no %s discovery", c.tpl, c.method)
			continue
		}
		prefix := "{#VSPHERE." + strings.ToUpper(strings.TrimSuffix(c.method, ".get")) + "."
		conds := list(m(rule["filter"])["conditions"])
		if c.nameMacro == "" {
			if len(conds) != 0 {
				t.Errorf("%s: datacenter alarm discovery filtered: %v", c.tpl, conds)
			}
		} else {
			checkAlarmFilter(t, c.tpl, conds, prefix+"ENTITY}", c.nameMacro)
		}
		var status doc
		for _, p := range list(rule["item_prototypes"]) {
			if strings.Contains(str(m(p)["key"]), ".alarm.status[") {
				status = m(p)
			}
		}
		if status == nil || !strings.Contains(str(status["name"]), prefix+"INFO}") || !strings.Contains(str(status["name"]), prefix+"ENTITY}") {
			t.Errorf("%s: alarm status prototype missing or not named by the alarm and entity: %v", c.tpl, status)
			continue
		}
		sev := map[string]string{}
		for _, tr := range list(status["trigger_prototypes"]) {
			e := str(m(tr)["expression"])
			if !strings.Contains(str(m(tr)["name"]), prefix+"INFO}") {
				t.Errorf("%s: trigger %q does not name the alarm", c.tpl, str(m(tr)["name"]))
			}
			sev[e[strings.LastIndex(e, "=")+1:]] = str(m(tr)["priority"])
		}
		if sev[`"red"`] != "HIGH" || sev[`"yellow"`] != "WARNING" {
			t.Errorf("%s: alarm triggers by severity %v, want red HIGH and yellow WARNING", c.tpl, sev)
		}
	}
}

func checkAlarmFilter(t *testing.T, tpl string, conds []any, entityMacro, nameMacro string) {
	t.Helper()
	if len(conds) != 1 {
		t.Errorf("%s: alarm discovery has %d filter conditions, want 1", tpl, len(conds))
		return
	}
	c := m(conds[0])
	if str(c["macro"]) != entityMacro || str(c["value"]) != `^\Q`+nameMacro+`\E$` ||
		(str(c["operator"]) != "" && str(c["operator"]) != "MATCHES_REGEX") {
		t.Errorf("%s: alarm filter %v, want %s matching ^\\Q%s\\E$", tpl, c, entityMacro, nameMacro)
		return
	}
	// What the filter does once Zabbix put the object's name in (PCRE and
	// RE2 agree on \Q...\E): the name itself only.
	const name = "web (old).1+[x]"
	re := regexp.MustCompile(strings.Replace(str(c["value"]), nameMacro, name, 1))
	for entity, want := range map[string]bool{name: true, "web (old)x1+[x]": false, name + "_VM0": false, "a" + name: false} {
		if re.MatchString(entity) != want {
			t.Errorf("%s: filter for %q matches entity %q: %v, want %v", tpl, name, entity, !want, want)
		}
	}
}

// The hypervisor's hardware health: the rollup item with a trigger per
// severity and the sensor discovery with state and value prototypes.
func TestHypervisorHardware(t *testing.T) {
	tpl := templateNamed(t, TplHypervisor)
	var hw doc
	for _, r := range itemsOf(tpl) {
		if str(r.item["key"]) == hvHWStatus {
			hw = r.item
		}
	}
	if hw == nil || str(m(hw["valuemap"])["name"]) != vmHealth {
		t.Fatalf("no %s item with value map %s: %v", hvHWStatus, vmHealth, hw)
	}
	want := map[string]string{"=3": "HIGH", "=2": "WARNING"}
	for _, tr := range list(hw["triggers"]) {
		e := str(m(tr)["expression"])
		if p, ok := want[e[strings.LastIndex(e, "="):]]; ok && p == str(m(tr)["priority"]) {
			delete(want, e[strings.LastIndex(e, "="):])
		}
	}
	if len(want) != 0 {
		t.Errorf("hardware health triggers missing: %v", want)
	}
	var sensors doc
	for _, r := range list(tpl["discovery_rules"]) {
		if strings.HasPrefix(str(m(r)["key"]), "vpoller.discover[host.sensor.discover,") {
			sensors = m(r)
		}
	}
	if sensors == nil {
		t.Fatal("no sensor discovery")
	}
	keys := map[string]doc{}
	for _, p := range list(sensors["item_prototypes"]) {
		keys[str(m(p)["key"])] = m(p)
	}
	if p := keys[hvSensorHealth]; p == nil || len(list(p["trigger_prototypes"])) != 2 {
		t.Errorf("sensor health prototype missing or without its two triggers: %v", p)
	}
	if keys[`vpoller.poll[host.sensor.get,{$VSPHERE.HOST},{$VSPHERE.HV.NAME},value,"{#VSPHERE.HOST.SENSOR.NAME}"]`] == nil &&
		keys[`vpoller.poll[host.sensor.get,{$VSPHERE.HOST},{$VSPHERE.HV.NAME},value,{#VSPHERE.HOST.SENSOR.NAME}]`] == nil {
		t.Errorf("no sensor value prototype among %v", keys)
	}
}

// The numeric state scripts, the sensor health mapping and the tag string
// in Zabbix's own JavaScript engine.
func TestStateScriptsInZabbixEngine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`[{"runtime.powerState": "poweredOn"}]`, "1"},
		{`[{"runtime.powerState": "suspended"}]`, "2"},
		{`[{"runtime.powerState": "somethingNew"}]`, stateOther},
		{`[{}]`, "4"}, // absent: the default, unknown
	} {
		if got := zabbixJS(t, stateJS(vmPower, "runtime.powerState", "unknown").Parameters[0], c.in); got != c.want {
			t.Errorf("power state %s: %q, want %q", c.in, got, c.want)
		}
	}
	for in, want := range map[string]string{"red": "3", "yellow": "2", "green": "1", "unknown": "0"} {
		if got := zabbixJS(t, strings.TrimSpace(healthNumJS), in); got != want {
			t.Errorf("health %s: %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`[]`: "",
		`[{"category": "Env", "tag": "prod", "description": ""}, {"category": "Team", "tag": "db", "description": "x"}]`: "Env:prod, Team:db",
	} {
		if got := zabbixJS(t, strings.TrimSpace(tagsJS), in); got != want {
			t.Errorf("tags %s: %q, want %q", in, got, want)
		}
	}
}

// The default event macros match lines of their severity anywhere in a
// poll's value (several lines in one) and nothing else.
func TestEventMacrosMatchSeverity(t *testing.T) {
	macros := map[string]string{}
	for _, mc := range list(templateNamed(t, TplVCenter)["macros"]) {
		macros[str(m(mc)["macro"])] = str(m(mc)["value"])
	}
	errLine := "2026-11-30 17:04:22 error VmFailedToPowerOnEvent vm01: cannot power on vm01"
	warnLine := "2026-11-30 17:05:03 warning com.vmware.vc.HA.HostStateChangedEvent esx02: state changed"
	infoLine := "2026-11-30 17:06:00 info UserLoginSessionEvent vc01: User error logged in"
	for macro, cases := range map[string]map[string]bool{
		"{$VSPHERE.EVENTS.ERROR.MATCHES}": {errLine: true, infoLine + "\n" + errLine: true, warnLine: false, infoLine: false, "": false},
		"{$VSPHERE.EVENTS.WARNING.MATCHES}": {warnLine: true, errLine + "\n" + warnLine: true, errLine: false, infoLine: false,
			"2026-11-30 17:06:00 info X vc01: warning " + "in a message": false},
	} {
		re, err := regexp.Compile(macros[macro])
		if err != nil {
			t.Fatalf("%s %q: %v", macro, macros[macro], err)
		}
		for in, want := range cases {
			if re.MatchString(in) != want {
				t.Errorf("%s on %q: %v, want %v", macro, in, !want, want)
			}
		}
	}
}
