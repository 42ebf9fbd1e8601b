package templates

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// coverage/zabbix-vmware.tsv maps every object of Zabbix's own VMware
// templates to ours by meaning. Counting objects says little (a raw master,
// a numeric twin and a real metric count the same); the table says, row by
// row, which of theirs an admin finds in ours. The tests below keep it true:
// every mapping names something the generated YAML holds, and
// docs/templates.md and the README show its figures.

const coverageFile = "coverage/zabbix-vmware.tsv"

// coverageColumns is the data file's header line.
var coverageColumns = []string{"zabbix_template", "kind", "zabbix", "meaning", "version", "status", "our_template", "ours", "note"}

// rawMasterReason starts the note of an n/a row that is a raw master item:
// such rows are left out of the metric counts.
const rawMasterReason = "raw master:"

var (
	coverageTemplates = []string{"VMware", "VMware Guest", "VMware Hypervisor"}
	coverageKinds     = map[string]bool{"discovery": true, "item": true, "item-prototype": true, "trigger": true, "trigger-prototype": true}
	coverageVersions  = map[string]bool{"7.0": true, "8.0": true}
)

// coverageSide is, per Zabbix template, the vPoller templates that hold the
// same kind of objects: Zabbix's VMware template (the vCenter host) carries
// clusters and datastores as prototypes where we discover hosts of their
// own, so its counterpart is every vPoller template but the VM, hypervisor
// and self-monitoring ones.
var coverageSide = map[string][]string{
	"VMware": {"vPoller vCenter", "vPoller Datacenter", "vPoller Cluster", "vPoller Datastore",
		"vPoller Datastore Cluster", "vPoller Resource Pool"},
	"VMware Guest":      {"vPoller Virtual Machine"},
	"VMware Hypervisor": {"vPoller Hypervisor"},
}

type coverageRow struct {
	line                                                            int
	tpl, kind, zabbix, meaning, version, status, ourTpl, ours, note string
}

func (r coverageRow) String() string {
	return fmt.Sprintf("line %d (%s %s %q)", r.line, r.tpl, r.kind, r.zabbix)
}

// metric reports whether the row counts as one of Zabbix's metrics: an
// item or item prototype that is not a raw master.
func (r coverageRow) metric() bool {
	return (r.kind == "item" || r.kind == "item-prototype") &&
		!(r.status == "n/a" && strings.HasPrefix(r.note, rawMasterReason))
}

// parseCoverage reads the data file: '#' lines are comments, then a header
// line, then one tab-separated row per Zabbix object. Malformed lines are
// errors; the checks of content are checkCoverage's.
func parseCoverage(r io.Reader) ([]coverageRow, error) {
	var rows []coverageRow
	header := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if !header {
			if strings.Join(f, ",") != strings.Join(coverageColumns, ",") {
				return nil, fmt.Errorf("line %d: header %q, want %q", n, f, coverageColumns)
			}
			header = true
			continue
		}
		if len(f) != len(coverageColumns) {
			return nil, fmt.Errorf("line %d: %d columns, want %d", n, len(f), len(coverageColumns))
		}
		for i := range f {
			if f[i] != strings.TrimSpace(f[i]) {
				return nil, fmt.Errorf("line %d: column %s has surrounding spaces", n, coverageColumns[i])
			}
		}
		rows = append(rows, coverageRow{line: n, tpl: f[0], kind: f[1], zabbix: f[2], meaning: f[3], version: f[4],
			status: f[5], ourTpl: f[6], ours: f[7], note: f[8]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading coverage rows: %w", err)
	}
	if !header {
		return nil, fmt.Errorf("no header line")
	}
	return rows, nil
}

// ourObjects is what one of our templates holds, as the rows name it.
type ourObjects struct {
	items    map[string]bool // item and item prototype keys
	triggers map[string]bool // trigger and trigger prototype names
	rules    map[string]bool // discovery rule keys
	metrics  int             // items + prototypes, raw masters and numeric twins left out
}

// numTwinRe splits a numeric twin's key (vsphere.vm.status.num,
// vsphere.dvs.status.num[{#ID}]) into the text item's key parts.
var numTwinRe = regexp.MustCompile(`^(.*)\.num(\[.*\])?$`)

// indexTemplates collects the objects of every template of the generated
// files, by template name.
func indexTemplates(files map[string]doc) map[string]*ourObjects {
	out := map[string]*ourObjects{}
	for _, d := range files {
		for _, tpl := range templatesOf(d) {
			o := &ourObjects{items: map[string]bool{}, triggers: map[string]bool{}, rules: map[string]bool{}}
			out[str(tpl["name"])] = o
			masters := map[string]bool{}
			var keys []string
			addItem := func(it doc, triggersKey string) {
				k := str(it["key"])
				o.items[k] = true
				keys = append(keys, k)
				if mk := str(m(it["master_item"])["key"]); mk != "" {
					masters[mk] = true
				}
				for _, tr := range list(it[triggersKey]) {
					o.triggers[str(m(tr)["name"])] = true
				}
			}
			for _, it := range list(tpl["items"]) {
				addItem(m(it), "triggers")
			}
			for _, r := range list(tpl["discovery_rules"]) {
				rd := m(r)
				o.rules[str(rd["key"])] = true
				if mk := str(m(rd["master_item"])["key"]); mk != "" {
					masters[mk] = true
				}
				for _, p := range list(rd["item_prototypes"]) {
					addItem(m(p), "trigger_prototypes")
				}
				for _, tr := range list(rd["trigger_prototypes"]) {
					o.triggers[str(m(tr)["name"])] = true
				}
			}
			for _, k := range keys {
				if masters[k] {
					continue
				}
				if mt := numTwinRe.FindStringSubmatch(k); mt != nil && o.items[mt[1]+mt[2]] {
					continue
				}
				o.metrics++
			}
		}
		// Triggers on items of several templates' hosts live at the top
		// level; they belong to every template their expression reads.
		for _, tr := range list(m(d["zabbix_export"])["triggers"]) {
			expr := str(m(tr)["expression"])
			for _, tpl := range templatesOf(d) {
				if strings.Contains(expr, "/"+str(tpl["name"])+"/") {
					out[str(tpl["name"])].triggers[str(m(tr)["name"])] = true
				}
			}
		}
	}
	return out
}

// checkCoverage returns what is wrong with the rows: unknown values, an
// n/a without its reason, a mapping on a row that is not ours, a mapping
// that names nothing our templates hold, a duplicate Zabbix object, and rows
// out of order (zabbix_template, kind, zabbix, byte order).
func checkCoverage(rows []coverageRow, ours map[string]*ourObjects) []string {
	var problems []string
	bad := func(r coverageRow, format string, args ...any) {
		problems = append(problems, r.String()+": "+fmt.Sprintf(format, args...))
	}
	knownTpl := map[string]bool{}
	for _, t := range coverageTemplates {
		knownTpl[t] = true
	}
	seen := map[[3]string]int{}
	for i, r := range rows {
		if !knownTpl[r.tpl] {
			bad(r, "unknown Zabbix template %q", r.tpl)
		}
		if !coverageKinds[r.kind] {
			bad(r, "unknown kind %q", r.kind)
		}
		if !coverageVersions[r.version] {
			bad(r, "unknown version %q", r.version)
		}
		if r.zabbix == "" || r.meaning == "" {
			bad(r, "zabbix and meaning are required")
		}
		k := [3]string{r.tpl, r.kind, r.zabbix}
		if first, dup := seen[k]; dup {
			bad(r, "duplicates line %d", first)
		} else {
			seen[k] = r.line
		}
		if i > 0 {
			p := rows[i-1]
			if pk := [3]string{p.tpl, p.kind, p.zabbix}; pk[0] > k[0] || pk[0] == k[0] && (pk[1] > k[1] || pk[1] == k[1] && pk[2] > k[2]) {
				bad(r, "out of order: sort by zabbix_template, kind, zabbix (after line %d)", p.line)
			}
		}
		switch r.status {
		case "ours":
			problems = append(problems, checkMapping(r, ours)...)
		case "n/a":
			if r.note == "" {
				bad(r, "n/a needs its reason in note")
			}
			fallthrough
		case "missing":
			if r.ourTpl != "" || r.ours != "" {
				bad(r, "status %s maps to %q %q: only ours rows map", r.status, r.ourTpl, r.ours)
			}
		default:
			bad(r, "unknown status %q", r.status)
		}
	}
	return problems
}

// checkMapping checks that an ours row names an object of its kind in the
// named template: an item or item prototype key for items, a trigger or
// trigger prototype name for triggers, a discovery rule key for rules.
func checkMapping(r coverageRow, ours map[string]*ourObjects) []string {
	o := ours[r.ourTpl]
	if o == nil {
		return []string{fmt.Sprintf("%s: no template %q in templates/vpoller_*.yaml", r, r.ourTpl)}
	}
	var found bool
	var what string
	switch r.kind {
	case "item", "item-prototype":
		found, what = o.items[r.ours], "item or item prototype key"
	case "trigger", "trigger-prototype":
		found, what = o.triggers[r.ours], "trigger or trigger prototype name"
	case "discovery":
		found, what = o.rules[r.ours], "discovery rule key"
	default:
		return nil // reported as an unknown kind
	}
	if !found {
		return []string{fmt.Sprintf("%s: %s has no %s %q", r, r.ourTpl, what, r.ours)}
	}
	return nil
}

func loadCoverage(t *testing.T) []coverageRow {
	t.Helper()
	f, err := os.Open(coverageFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := parseCoverage(f)
	if err != nil {
		t.Fatalf("%s: %v", coverageFile, err)
	}
	return rows
}

// Every row of the data file is well-formed and every mapping names an
// object the generated templates hold.
func TestCoverageRowsResolve(t *testing.T) {
	rows := loadCoverage(t)
	for _, p := range checkCoverage(rows, indexTemplates(loadFiles(t))) {
		t.Error(p)
	}
	for _, tpl := range coverageTemplates {
		n := 0
		for _, r := range rows {
			if r.tpl == tpl {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no rows for Zabbix template %q", tpl)
		}
	}
}

// The checks catch each kind of mistake the data file can hold.
func TestCoverageCheckCatches(t *testing.T) {
	ours := map[string]*ourObjects{"vPoller Virtual Machine": {
		items:    map[string]bool{"vsphere.vm.cpu.num": true},
		triggers: map[string]bool{"VM {HOST.NAME} needs disk consolidation": true},
		rules:    map[string]bool{"vpoller.discover[vm.disk.discover,{$VSPHERE.HOST},{$VSPHERE.VM.NAME}]": true},
	}}
	row := func(kind, zabbix, status, ourTpl, ours, note string) coverageRow {
		return coverageRow{line: 2, tpl: "VMware Guest", kind: kind, zabbix: zabbix, meaning: "m", version: "7.0",
			status: status, ourTpl: ourTpl, ours: ours, note: note}
	}
	good := []coverageRow{
		row("discovery", "d", "ours", "vPoller Virtual Machine", "vpoller.discover[vm.disk.discover,{$VSPHERE.HOST},{$VSPHERE.VM.NAME}]", ""),
		row("item", "a", "ours", "vPoller Virtual Machine", "vsphere.vm.cpu.num", ""),
		row("item", "b", "n/a", "", "", "raw master: feeds a"),
		row("item", "c", "missing", "", "", ""),
		row("trigger", "t", "ours", "vPoller Virtual Machine", "VM {HOST.NAME} needs disk consolidation", ""),
	}
	if p := checkCoverage(good, ours); len(p) != 0 {
		t.Fatalf("good rows: %q", p)
	}
	for _, tc := range []struct {
		name string
		rows []coverageRow
		want string
	}{
		{"item key not in template", []coverageRow{row("item", "a", "ours", "vPoller Virtual Machine", "vsphere.vm.cpu.numx", "")},
			`vPoller Virtual Machine has no item or item prototype key "vsphere.vm.cpu.numx"`},
		{"trigger name not in template", []coverageRow{row("trigger", "t", "ours", "vPoller Virtual Machine", "VM needs consolidation", "")},
			`has no trigger or trigger prototype name "VM needs consolidation"`},
		{"rule key not in template", []coverageRow{row("discovery", "d", "ours", "vPoller Virtual Machine", "vpoller.discover[vm.disk.discover]", "")},
			`has no discovery rule key`},
		{"item key given as trigger", []coverageRow{row("trigger", "t", "ours", "vPoller Virtual Machine", "vsphere.vm.cpu.num", "")},
			`has no trigger or trigger prototype name "vsphere.vm.cpu.num"`},
		{"unknown template", []coverageRow{row("item", "a", "ours", "vPoller VM", "vsphere.vm.cpu.num", "")},
			`no template "vPoller VM"`},
		{"n/a without reason", []coverageRow{row("item", "b", "n/a", "", "", "")}, "n/a needs its reason"},
		{"missing with a mapping", []coverageRow{row("item", "c", "missing", "vPoller Virtual Machine", "vsphere.vm.cpu.num", "")},
			"only ours rows map"},
		{"duplicate", []coverageRow{good[1], good[1]}, "duplicates line 2"},
		{"unsorted", []coverageRow{good[1], good[0]}, "out of order"},
		{"unknown status", []coverageRow{row("item", "a", "partly", "", "", "")}, `unknown status "partly"`},
		{"unknown kind", []coverageRow{row("graph", "a", "missing", "", "", "")}, `unknown kind "graph"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := checkCoverage(tc.rows, ours)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Errorf("problems %q, want one containing %q", p, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, in, want string }{
		{"header", "a\tb\n", "header"},
		{"columns", strings.Join(coverageColumns, "\t") + "\nVMware\titem\tk\n", "3 columns, want 9"},
		{"spaces", strings.Join(coverageColumns, "\t") + "\nVMware \titem\tk\tm\t7.0\tmissing\t\t\t\n", "surrounding spaces"},
		{"empty", "# only a comment\n", "no header line"},
	} {
		t.Run("parse "+tc.name, func(t *testing.T) {
			_, err := parseCoverage(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// coverageTally is one Zabbix template's line of the summary.
type coverageTally struct {
	rows, ours, na, missing, metrics, metricsOurs, ourMetrics int
}

func (c coverageTally) add(o coverageTally) coverageTally {
	return coverageTally{c.rows + o.rows, c.ours + o.ours, c.na + o.na, c.missing + o.missing,
		c.metrics + o.metrics, c.metricsOurs + o.metricsOurs, c.ourMetrics + o.ourMetrics}
}

func tallyCoverage(rows []coverageRow, ours map[string]*ourObjects) (map[string]coverageTally, coverageTally) {
	per := map[string]coverageTally{}
	for _, r := range rows {
		c := per[r.tpl]
		c.rows++
		switch r.status {
		case "ours":
			c.ours++
		case "n/a":
			c.na++
		case "missing":
			c.missing++
		}
		if r.metric() {
			c.metrics++
			if r.status == "ours" {
				c.metricsOurs++
			}
		}
		per[r.tpl] = c
	}
	var total coverageTally
	for _, tpl := range coverageTemplates {
		c := per[tpl]
		for _, o := range coverageSide[tpl] {
			if ours[o] != nil {
				c.ourMetrics += ours[o].metrics
			}
		}
		per[tpl] = c
		total = total.add(c)
	}
	return per, total
}

// coverageSection is the generated part of docs/templates.md's "Coverage
// by meaning": the summary table and the gaps.
func coverageSection(rows []coverageRow, ours map[string]*ourObjects) string {
	per, total := tallyCoverage(rows, ours)
	var b strings.Builder
	b.WriteString("| Zabbix template | rows | ours | n/a | missing | Zabbix metrics | of them ours | vPoller templates | vPoller metrics |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	line := func(name string, c coverageTally, side string) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %s | %d |\n",
			name, c.rows, c.ours, c.na, c.missing, c.metrics, c.metricsOurs, side, c.ourMetrics)
	}
	for _, tpl := range coverageTemplates {
		line(tpl, per[tpl], strings.Join(coverageSide[tpl], ", "))
	}
	line("all", total, "all but self-monitoring")
	b.WriteString("\nMissing today (the gaps to close):\n")
	for _, tpl := range coverageTemplates {
		var gaps []string
		for _, r := range rows {
			if r.tpl == tpl && r.status == "missing" {
				g := fmt.Sprintf("- %s `%s` (%s): %s", r.kind, r.zabbix, r.version, r.meaning)
				if r.note != "" {
					g += "; " + r.note
				}
				gaps = append(gaps, g)
			}
		}
		fmt.Fprintf(&b, "\n*%s* (%d):\n\n%s\n", tpl, len(gaps), strings.Join(gaps, "\n"))
	}
	return b.String()
}

// coverageClaim is the README's sentence with the figures.
func coverageClaim(total coverageTally) string {
	return fmt.Sprintf("%d of the %d items, item prototypes, triggers and discoveries of Zabbix's VMware templates "+
		"(7.0 and 8.0's additions) have a vPoller counterpart, %d do not apply and %d are gaps",
		total.ours, total.rows, total.na, total.missing)
}

const (
	coverageBegin = "<!-- coverage:begin (generated: TestCoverageDocs prints it) -->\n"
	coverageEnd   = "<!-- coverage:end -->"
)

// docs/templates.md shows the summary and the gaps exactly as the data file
// and the generated templates give them, and the README the same figures;
// a failure prints what they should say.
func TestCoverageDocs(t *testing.T) {
	rows := loadCoverage(t)
	ours := indexTemplates(loadFiles(t))
	want := coverageSection(rows, ours)
	t.Logf("coverage by meaning:\n%s", want)

	raw, err := os.ReadFile("../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, coverageBegin), strings.Index(doc, coverageEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/templates.md: no %q ... %q block", strings.TrimSpace(coverageBegin), coverageEnd)
	}
	if got := strings.TrimSpace(doc[i+len(coverageBegin) : j]); got != strings.TrimSpace(want) {
		t.Errorf("docs/templates.md coverage block differs; it should read as logged above")
	}

	_, total := tallyCoverage(rows, ours)
	claim := coverageClaim(total)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), claim) {
		t.Errorf("README.md should say (line breaks aside): %q", claim)
	}
}

// The tally counts rows by status and leaves raw masters out of the metrics.
func TestCoverageTally(t *testing.T) {
	rows := []coverageRow{
		{tpl: "VMware Guest", kind: "item", status: "ours"},
		{tpl: "VMware Guest", kind: "item-prototype", status: "missing"},
		{tpl: "VMware Guest", kind: "item", status: "n/a", note: "raw master: feeds x"},
		{tpl: "VMware Guest", kind: "item", status: "n/a", note: "internal error check"},
		{tpl: "VMware Guest", kind: "trigger", status: "ours"},
		{tpl: "VMware Hypervisor", kind: "discovery", status: "ours"},
	}
	ours := map[string]*ourObjects{"vPoller Virtual Machine": {metrics: 7}, "vPoller Hypervisor": {metrics: 3}}
	per, total := tallyCoverage(rows, ours)
	for name, c := range map[string][2]coverageTally{
		"VMware Guest":      {per["VMware Guest"], {rows: 5, ours: 2, na: 2, missing: 1, metrics: 3, metricsOurs: 1, ourMetrics: 7}},
		"VMware Hypervisor": {per["VMware Hypervisor"], {rows: 1, ours: 1, ourMetrics: 3}},
		"total":             {total, {rows: 6, ours: 3, na: 2, missing: 1, metrics: 3, metricsOurs: 1, ourMetrics: 10}},
	} {
		if c[0] != c[1] {
			t.Errorf("%s: %+v, want %+v", name, c[0], c[1])
		}
	}
}

// indexTemplates counts a template's metrics without raw masters and
// numeric twins, and finds top-level triggers by their expression.
func TestCoverageIndex(t *testing.T) {
	d := doc{"zabbix_export": doc{
		"templates": []any{doc{"name": "T", "items": []any{
			doc{"key": "raw[x]"},
			doc{"key": "a.status", "master_item": doc{"key": "raw[x]"}, "triggers": []any{doc{"name": "red"}}},
			doc{"key": "a.status.num", "master_item": doc{"key": "raw[x]"}},
			doc{"key": "b"},
		}, "discovery_rules": []any{doc{"key": "rule", "item_prototypes": []any{
			doc{"key": "p[{#X}]", "trigger_prototypes": []any{doc{"name": "proto"}}},
			doc{"key": "p.num[{#X}]"},
		}}}}},
		"triggers": []any{doc{"name": "top", "expression": "last(/T/a.status)=1"}},
	}}
	o := indexTemplates(map[string]doc{"t.yaml": d})["T"]
	if o == nil {
		t.Fatal("template T not indexed")
	}
	if o.metrics != 3 { // a.status, b, p[{#X}]
		t.Errorf("metrics %d, want 3", o.metrics)
	}
	for _, k := range []string{"raw[x]", "a.status.num", "p[{#X}]", "p.num[{#X}]"} {
		if !o.items[k] {
			t.Errorf("item %q not indexed", k)
		}
	}
	for _, n := range []string{"red", "proto", "top"} {
		if !o.triggers[n] {
			t.Errorf("trigger %q not indexed", n)
		}
	}
	if !o.rules["rule"] {
		t.Error("rule not indexed")
	}
	keys := make([]string, 0, len(o.items))
	for k := range o.items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 6 {
		t.Errorf("items %q, want 6", keys)
	}
}

// No Zabbix 7.0 object is left out: per template and kind, the 7.0 rows
// number what docs/templates.md's table of Zabbix's templates counted from
// their YAML (items, item prototypes, triggers, trigger prototypes, rules).
func TestCoverageMatchesZabbixCounts(t *testing.T) {
	raw, err := os.ReadFile("../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{"item", "item-prototype", "trigger", "trigger-prototype", "discovery"}
	rowRe := regexp.MustCompile(`(?m)^\| Zabbix (VMware[^|]*?) \|((?: \d+ \|){10})$`)
	documented := map[string][]string{}
	for _, mt := range rowRe.FindAllStringSubmatch(string(raw), -1) {
		documented[mt[1]] = strings.Fields(strings.ReplaceAll(mt[2], "|", " "))[:len(kinds)]
	}
	have := map[string]map[string]int{}
	for _, r := range loadCoverage(t) {
		if r.version != "7.0" {
			continue
		}
		if have[r.tpl] == nil {
			have[r.tpl] = map[string]int{}
		}
		have[r.tpl][r.kind]++
	}
	for _, tpl := range coverageTemplates {
		want := documented[tpl]
		if want == nil {
			t.Errorf("docs/templates.md has no row for Zabbix %s", tpl)
			continue
		}
		for i, k := range kinds {
			if got := fmt.Sprint(have[tpl][k]); got != want[i] {
				t.Errorf("%s: %d 7.0 rows of kind %s, docs/templates.md counts %s", tpl, have[tpl][k], k, want[i])
			}
		}
	}
}
