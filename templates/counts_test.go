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
	items, itemProtos, triggers, triggerProtos, rules, hostProtos, graphs, dashboards, valueMaps int
}

func (c counts) row(name string) string {
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |", name, c.items, c.itemProtos,
		c.triggers, c.triggerProtos, c.rules, c.hostProtos, c.graphs, c.dashboards, c.valueMaps)
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
	rowRe := regexp.MustCompile(`(?m)^\| (vPoller [^|]+?) \|( \d+ \|){9}$`)
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
		total = counts{total.items + c.items, total.itemProtos + c.itemProtos, total.triggers + c.triggers,
			total.triggerProtos + c.triggerProtos, total.rules + c.rules, total.hostProtos + c.hostProtos,
			total.graphs + c.graphs, total.dashboards + c.dashboards, total.valueMaps + c.valueMaps}
	}
	if got := documented["vPoller total"]; got != total.row("vPoller total") {
		t.Errorf("docs/templates.md total row:\n  got  %q\n  want %q", got, total.row("vPoller total"))
	}
	if t.Failed() {
		sort.Strings(want)
		t.Logf("rows:\n%s\n%s", strings.Join(want, "\n"), total.row("vPoller total"))
	}
}
