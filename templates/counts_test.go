package templates

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// counts are the objects of one template, as docs/templates.md's
// comparison with Zabbix's own VMware templates lists them.
type counts struct {
	items, itemProtos, triggers, triggerProtos, rules, hostProtos, graphs, graphProtos, dashboards, valueMaps int
}

// columns are the table's columns, in order.
var columns = []string{"items", "item prototypes", "triggers", "trigger prototypes", "LLD rules", "host prototypes",
	"graphs", "graph prototypes", "dashboards", "value maps"}

func (c counts) values() []int {
	return []int{c.items, c.itemProtos, c.triggers, c.triggerProtos, c.rules, c.hostProtos, c.graphs, c.graphProtos, c.dashboards, c.valueMaps}
}

func (c counts) add(o counts) counts {
	return counts{c.items + o.items, c.itemProtos + o.itemProtos, c.triggers + o.triggers, c.triggerProtos + o.triggerProtos,
		c.rules + o.rules, c.hostProtos + o.hostProtos, c.graphs + o.graphs, c.graphProtos + o.graphProtos,
		c.dashboards + o.dashboards, c.valueMaps + o.valueMaps}
}

func (c counts) row(name string) string {
	var b strings.Builder
	b.WriteString("| " + name + " |")
	for _, v := range c.values() {
		fmt.Fprintf(&b, " %d |", v)
	}
	return b.String()
}

// countTemplate counts one template file's objects from the committed YAML.
func countTemplate(d doc) counts {
	var c counts
	for _, tpl := range templatesOf(d) {
		for _, it := range list(tpl["items"]) {
			c.items++
			c.triggers += len(list(m(it)["triggers"]))
		}
		for _, r := range list(tpl["discovery_rules"]) {
			c.rules++
			c.triggerProtos += len(list(m(r)["trigger_prototypes"]))
			c.hostProtos += len(list(m(r)["host_prototypes"]))
			c.graphProtos += len(list(m(r)["graph_prototypes"]))
			for _, p := range list(m(r)["item_prototypes"]) {
				c.itemProtos++
				c.triggerProtos += len(list(m(p)["trigger_prototypes"]))
			}
		}
		c.dashboards += len(list(tpl["dashboards"]))
		c.valueMaps += len(list(tpl["valuemaps"]))
	}
	body := m(d["zabbix_export"])
	c.triggers += len(list(body["triggers"]))
	c.graphs = len(list(body["graphs"]))
	return c
}

// The comparison table of docs/templates.md holds the counts of our
// generated templates: regenerate the templates and the table stays true
// only if this test passes (its failure prints the right rows).
func TestDocsCountsMatchTemplates(t *testing.T) {
	raw, err := os.ReadFile("../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	rowRe := regexp.MustCompile(`(?m)^\| (vPoller [^|]+?) \|( \d+ \|){10}$`)
	documented := map[string]string{}
	for _, l := range rowRe.FindAllString(string(raw), -1) {
		documented[rowRe.FindStringSubmatch(l)[1]] = l
	}
	var total counts
	var want []string
	for name, d := range loadFiles(t) {
		if name == "vpoller_self.yaml" {
			continue // self-monitoring has no Zabbix counterpart
		}
		c := countTemplate(d)
		tn := str(templatesOf(d)[0]["name"])
		want = append(want, c.row(tn))
		if got := documented[tn]; got != c.row(tn) {
			t.Errorf("docs/templates.md row for %s:\n  got  %q\n  want %q", tn, got, c.row(tn))
		}
		total = total.add(c)
	}
	if got := documented["vPoller total"]; got != total.row("vPoller total") {
		t.Errorf("docs/templates.md total row:\n  got  %q\n  want %q", got, total.row("vPoller total"))
	}
	if t.Failed() {
		sort.Strings(want)
		t.Logf("rows:\n%s\n%s", strings.Join(want, "\n"), total.row("vPoller total"))
	}
}

// zabbixCounterpart pairs our templates with Zabbix 7.0's VMware templates
// in docs/templates.md's side-by-side table.
var zabbixCounterpart = map[string]string{
	"vPoller vCenter":         "Zabbix VMware",
	"vPoller Hypervisor":      "Zabbix VMware Hypervisor",
	"vPoller Virtual Machine": "Zabbix VMware Guest",
	"vPoller total":           "Zabbix total",
}

// sideLabel is the side-by-side table's row label of our template.
var sideLabel = map[string]string{
	"vPoller vCenter":         "vCenter",
	"vPoller Hypervisor":      "hypervisor",
	"vPoller Virtual Machine": "virtual machine",
	"vPoller total":           "total (all templates)",
}

// TestOursAtLeastZabbix reads both tables of docs/templates.md (ours is
// kept true by TestDocsCountsMatchTemplates, Zabbix's was counted from its
// YAML) and wants ours >= theirs in every column of every paired row.
func TestOursAtLeastZabbix(t *testing.T) {
	raw, err := os.ReadFile("../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	rowRe := regexp.MustCompile(`(?m)^\| ((?:vPoller|Zabbix) [^|]+?) \|((?: \d+ \|){10})$`)
	rows := map[string][]int{}
	for _, mt := range rowRe.FindAllStringSubmatch(string(raw), -1) {
		var vals []int
		for _, f := range strings.Split(strings.Trim(mt[2], " |"), "|") {
			var v int
			if _, err := fmt.Sscan(strings.TrimSpace(f), &v); err != nil {
				t.Fatalf("row %q: %v", mt[1], err)
			}
			vals = append(vals, v)
		}
		rows[mt[1]] = vals
	}
	for ours, theirs := range zabbixCounterpart {
		o, z := rows[ours], rows[theirs]
		if o == nil || z == nil {
			t.Errorf("docs/templates.md lacks the row %q or %q", ours, theirs)
			continue
		}
		side := "| " + sideLabel[ours] + " (ours / Zabbix) |"
		for i, col := range columns {
			if o[i] < z[i] {
				t.Errorf("%s has %d %s, %s %d", ours, o[i], col, theirs, z[i])
			}
			side += fmt.Sprintf(" %d / %d |", o[i], z[i])
		}
		if !strings.Contains(string(raw), "\n"+side+"\n") {
			t.Errorf("docs/templates.md side-by-side table lacks the row\n%s", side)
		}
	}
}
