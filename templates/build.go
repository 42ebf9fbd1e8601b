package templates

import (
	"fmt"
	"strings"
)

// Names of the templates, as item keys' expressions and host prototypes
// refer to them.
const (
	TplVCenter    = "vPoller vCenter"
	TplHypervisor = "vPoller Hypervisor"
	TplVM         = "vPoller Virtual Machine"
	TplDatastore  = "vPoller Datastore"
	TplCluster    = "vPoller Cluster"
	TplDatacenter = "vPoller Datacenter"

	// TemplateGroup holds the templates.
	TemplateGroup = "Templates/Virtualization"

	// Macros every template understands.
	MacroAgent       = "{$VSPHERE.HOST}"
	MacroInterval    = "{$VPOLLER.INTERVAL}"
	MacroLLDInterval = "{$VPOLLER.LLD.INTERVAL}"
)

// Tag values marking items that may legitimately be unsupported: the e2e
// test tolerates an unsupported item only when it carries TagOptional.
const (
	TagOptional = "optional"
	// OptionalPerf: performance counters; unsupported when the worker or
	// the vCenter does not serve the counter (statistics level too low).
	OptionalPerf = "perf"
)

// builder accumulates one template's objects and derives their uuids from
// the template name, so that every uuid is stable and unique.
type builder struct {
	t Template
}

func newTemplate(name, description string) *builder {
	return &builder{t: Template{
		UUID:        UUID(name),
		Template:    name,
		Name:        name,
		Description: strings.TrimSpace(description),
		Groups:      []Name{{Name: TemplateGroup}},
		Tags:        []Tag{{Tag: "class", Value: "software"}, {Tag: "target", Value: "vmware"}},
	}}
}

func (b *builder) macro(name, value, description string) {
	b.t.Macros = append(b.t.Macros, Macro{Macro: name, Value: value, Description: description})
}

func (b *builder) item(it Item) *Item {
	it.UUID = UUID(b.t.Template, "item", it.Key)
	b.t.Items = append(b.t.Items, it)
	return &b.t.Items[len(b.t.Items)-1]
}

func (b *builder) rule(r DiscoveryRule) *DiscoveryRule {
	r.UUID = UUID(b.t.Template, "lld", r.Key)
	b.t.DiscoveryRules = append(b.t.DiscoveryRules, r)
	return &b.t.DiscoveryRules[len(b.t.DiscoveryRules)-1]
}

// graphColors are the usual Zabbix colours of a graph's lines.
var graphColors = []string{"1A7C11", "2774A4", "F63100", "A54F10", "FC6EA3", "6C59DC"}

// newGraph is a graph (or graph prototype) of the template's items (or
// item prototypes), by key; its uuid is set by the caller.
func newGraph(tpl, name string, keys []string) Graph {
	g := Graph{Name: name}
	for i, k := range keys {
		gi := GraphItem{Color: graphColors[i%len(graphColors)], Item: ItemRef{Host: tpl, Key: k}}
		if i > 0 {
			gi.SortOrder = fmt.Sprint(i)
		}
		g.GraphItems = append(g.GraphItems, gi)
	}
	return g
}

// graph adds a classic graph of the template's items (keys).
func (b *builder) graph(name string, keys ...string) {
	g := newGraph(b.t.Template, name, keys)
	g.UUID = UUID(b.t.Template, "graph", name)
	b.t.Graphs = append(b.t.Graphs, g)
}

// graphProto adds a graph prototype of the rule's item prototypes (its
// uuid is set by finish, from the rule's key).
func (b *builder) graphProto(r *DiscoveryRule, name string, keys ...string) {
	r.GraphProtos = append(r.GraphProtos, newGraph(b.t.Template, name, keys))
}

// Dashboard widgets of Zabbix 6.0 template dashboards (the widget types a
// 6.0 template may hold: classic graph, graph prototype, plain text, ...).

// graphWidget shows a graph of the template by name.
func (b *builder) graphWidget(graph string) Widget {
	return Widget{Type: "GRAPH_CLASSIC", Fields: []WidgetField{
		{Type: "INTEGER", Name: "source_type", Value: "0"},
		{Type: "GRAPH", Name: "graphid", Value: GraphRef{Host: b.t.Template, Name: graph}},
	}}
}

// graphProtoWidget shows every graph a graph prototype of the template
// made, columns x rows at a time (the frontend pages through the rest).
func (b *builder) graphProtoWidget(proto string, columns, rows int) Widget {
	return Widget{Type: "GRAPH_PROTOTYPE", Fields: []WidgetField{
		{Type: "INTEGER", Name: "source_type", Value: "2"},
		{Type: "INTEGER", Name: "columns", Value: fmt.Sprint(columns)},
		{Type: "INTEGER", Name: "rows", Value: fmt.Sprint(rows)},
		{Type: "GRAPH_PROTOTYPE", Name: "graphid", Value: GraphRef{Host: b.t.Template, Name: proto}},
	}}
}

// textWidget shows the newest lines values of an item of the template
// (a log item: its latest lines).
func (b *builder) textWidget(name, key string, lines int) Widget {
	return Widget{Type: "PLAIN_TEXT", Name: name, Fields: []WidgetField{
		{Type: "INTEGER", Name: "show_lines", Value: fmt.Sprint(lines)},
		{Type: "ITEM", Name: "itemids", Value: ItemRef{Host: b.t.Template, Key: key}},
	}}
}

// dashboard adds a dashboard of the template's graphs, two per row.
func (b *builder) dashboard(name string, graphs ...string) {
	ws := make([]Widget, len(graphs))
	for i, g := range graphs {
		ws[i] = b.graphWidget(g)
	}
	b.dashboardOf(name, ws...)
}

// overview adds a template's overview dashboard: its graphs, then every
// graph of its graph prototypes (one per widget, paged by the frontend).
func (b *builder) overview(name string, graphs, protos []string) {
	var ws []Widget
	for _, g := range graphs {
		ws = append(ws, b.graphWidget(g))
	}
	for _, g := range protos {
		ws = append(ws, b.graphProtoWidget(g, 1, 1))
	}
	b.dashboardOf(name, ws...)
}

// dashboardOf adds a dashboard of widgets laid out two per row, each half
// the width and five rows high.
func (b *builder) dashboardOf(name string, widgets ...Widget) {
	d := Dashboard{UUID: UUID(b.t.Template, "dashboard", name), Name: name}
	var page DashboardPage
	for i, w := range widgets {
		w.Width, w.Height = "12", "5"
		if i%2 == 1 {
			w.X = "12"
		}
		if i >= 2 {
			w.Y = fmt.Sprint(5 * (i / 2))
		}
		page.Widgets = append(page.Widgets, w)
	}
	d.Pages = []DashboardPage{page}
	b.t.Dashboards = append(b.t.Dashboards, d)
}

func (b *builder) valueMap(name string, pairs ...string) {
	vm := ValueMap{UUID: UUID(b.t.Template, "valuemap", name), Name: name}
	for i := 0; i+1 < len(pairs); i += 2 {
		vm.Mappings = append(vm.Mappings, Mapping{Value: pairs[i], NewValue: pairs[i+1]})
	}
	b.t.ValueMaps = append(b.t.ValueMaps, vm)
}

// finish fixes the uuids of objects nested in items and rules, which
// depend on their parents' keys.
func (b *builder) finish() Template {
	for i := range b.t.Items {
		fixTriggers(b.t.Template, b.t.Items[i].Triggers)
	}
	for i := range b.t.DiscoveryRules {
		r := &b.t.DiscoveryRules[i]
		for j := range r.ItemPrototypes {
			p := &r.ItemPrototypes[j]
			p.UUID = UUID(b.t.Template, "lld", r.Key, "item", p.Key)
			fixTriggers(b.t.Template, p.TriggerProtos)
		}
		fixTriggers(b.t.Template, r.TriggerProtos)
		for j := range r.GraphProtos {
			g := &r.GraphProtos[j]
			g.UUID = UUID(b.t.Template, "lld", r.Key, "graph", g.Name)
		}
		for j := range r.HostPrototypes {
			h := &r.HostPrototypes[j]
			h.UUID = UUID(b.t.Template, "lld", r.Key, "host", h.Host)
		}
	}
	return b.t
}

func fixTriggers(tpl string, ts []Trigger) {
	for i := range ts {
		ts[i].UUID = UUID(tpl, "trigger", ts[i].Expression)
	}
}

// Value types, item types and preprocessing as the export format spells them.
const (
	vtFloat    = "FLOAT"
	vtChar     = "CHAR"
	vtText     = "TEXT"
	vtUnsigned = "" // the default
)

// master is the one vpoller.get item per object whose JSON reply feeds the
// dependent items: one vCenter request per object per interval.
func master(name, key, description string) Item {
	return Item{
		Name:        name,
		Key:         key,
		Delay:       MacroInterval,
		History:     "1h",
		Trends:      "0",
		ValueType:   vtText,
		Description: description,
		Tags:        []Tag{{Tag: "component", Value: "raw"}},
	}
}

// dep is a dependent item reading one value from its master's JSON.
func dep(masterKey, key, name, valueType, units string, steps ...Step) Item {
	it := Item{
		Name:          name,
		Type:          "DEPENDENT",
		Key:           key,
		Delay:         "0",
		ValueType:     valueType,
		Units:         units,
		Preprocessing: steps,
		MasterItem:    &MasterItem{Key: masterKey},
	}
	if valueType == vtChar || valueType == vtText {
		it.Trends = "0"
	}
	return it
}

func (it Item) withTags(tags ...string) Item {
	for i := 0; i+1 < len(tags); i += 2 {
		it.Tags = append(it.Tags, Tag{Tag: tags[i], Value: tags[i+1]})
	}
	return it
}

func (it Item) withDescription(d string) Item {
	it.Description = d
	return it
}

func (it Item) withValueMap(name string) Item {
	it.ValueMap = &Name{Name: name}
	return it
}

func (it Item) withTriggers(ts ...Trigger) Item {
	it.Triggers = append(it.Triggers, ts...)
	return it
}

func (it Item) withTriggerProtos(ts ...Trigger) Item {
	it.TriggerProtos = append(it.TriggerProtos, ts...)
	return it
}

// prop reads property p of the single object a *.get reply holds.
func prop(p string) Step {
	return Step{Type: "JSONPATH", Parameters: []string{"$[0]['" + p + "']"}}
}

// propOr is prop with a value to use when the property is absent: vSphere
// leaves zero counters and unset values out of its replies.
func propOr(p, def string) Step {
	s := prop(p)
	s.ErrorHandler = "CUSTOM_VALUE"
	s.ErrorHandlerParams = def
	return s
}

func jsonPath(path string) Step {
	return Step{Type: "JSONPATH", Parameters: []string{path}}
}

func jsonPathOr(path, def string) Step {
	s := jsonPath(path)
	s.ErrorHandler = "CUSTOM_VALUE"
	s.ErrorHandlerParams = def
	return s
}

func boolToDecimal() Step {
	return Step{Type: "BOOL_TO_DECIMAL", Parameters: []string{""}}
}

func multiply(f string) Step {
	return Step{Type: "MULTIPLIER", Parameters: []string{f}}
}

func javascript(code string) Step {
	return Step{Type: "JAVASCRIPT", Parameters: []string{strings.TrimSpace(code)}}
}

func discardUnchanged(heartbeat string) Step {
	return Step{Type: "DISCARD_UNCHANGED_HEARTBEAT", Parameters: []string{heartbeat}}
}

// trigger builds a trigger; its uuid is set by finish.
func trigger(name, priority, expression, description string) Trigger {
	return Trigger{Expression: expression, Name: name, Priority: priority, Description: description}
}

// recoversWhen makes the problem last until expr holds (the trigger's own
// expression may stop holding at once: a change, say); it can also be
// closed by hand.
func (t Trigger) recoversWhen(expr string) Trigger {
	t.RecoveryMode, t.RecoveryExpression, t.ManualClose = "RECOVERY_EXPRESSION", expr, "YES"
	return t
}

func (t Trigger) dependsOn(o Trigger) Trigger {
	t.Dependencies = append(t.Dependencies, Dependency{Name: o.Name, Expression: o.Expression})
	return t
}

func (t Trigger) withOpData(s string) Trigger {
	t.OpData = s
	return t
}

// last is the trigger function last(/template/key).
func last(tpl, key string) string {
	return "last(/" + tpl + "/" + key + ")"
}

// Keys of the plugin (see plugin/ for their parameters).
func getKey(method string, params ...string) string {
	return Key("vpoller.get", append([]string{method, MacroAgent}, params...)...)
}

func discoverKey(method string, params ...string) string {
	return Key("vpoller.discover", append([]string{method, MacroAgent}, params...)...)
}

func pollKey(method string, params ...string) string {
	return Key("vpoller.poll", append([]string{method, MacroAgent}, params...)...)
}

// perfKey polls the newest sample of a performance counter by name.
func perfKey(method, nameMacro, counter string) string {
	return pollKey(method, nameMacro, "value", "", "", "", counter)
}

// perfHistKey is perfKey on a historical interval: clusters, datastores and
// datacenters have no real-time statistics, only the intervals' rollups.
func perfHistKey(method, nameMacro, counter, interval string) string {
	return pollKey(method, nameMacro, "value", "", "", "", counter, "", interval)
}

// MacroPerfInterval names the historical interval of the perf items of
// entities without real-time statistics (clusters).
const MacroPerfInterval = "{$VSPHERE.PERF.INTERVAL}"

// RealtimeSample is vSphere's real-time sampling period of hosts and VMs
// in seconds: the period a *.summation counter (ready, co-stop) sums over.
const RealtimeSample = 20

// perf is an item polling one performance counter, converted to Zabbix
// units by mult ("" keeps the value). Perf items are always tagged
// optional: perf, since they depend on the vCenter's statistics level.
func perf(key, name, valueType, units, mult, description string) Item {
	it := Item{Name: name, Key: key, Delay: MacroInterval, ValueType: valueType, Units: units, Description: description}
	if mult != "" {
		it.Preprocessing = []Step{multiply(mult)}
	}
	return it.withTags(TagOptional, OptionalPerf)
}

// calc is a calculated item: Zabbix derives it from other items of the
// same host (formula with last(//key)), no vCenter request. Calculated
// items fed by perf items are optional like them.
func calc(key, name, units, formula, description string) Item {
	return Item{Name: name, Type: "CALCULATED", Key: key, Delay: MacroInterval, ValueType: vtFloat,
		Units: units, Params: formula, Description: description}
}

// ref is the calculated-item reference last(//key) to an item of the same host.
func ref(key string) string { return "last(//" + key + ")" }

func props(p ...string) string { return strings.Join(p, ",") }
