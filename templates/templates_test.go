package templates

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// The tests below read the committed YAML files generically (not through
// the generator's types), so they check what users import.

type doc = map[string]any

func loadFiles(t *testing.T) map[string]doc {
	t.Helper()
	paths, err := filepath.Glob("*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no template files: %v", err)
	}
	out := map[string]doc{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d doc
		if err := yaml.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: invalid YAML: %v", p, err)
		}
		out[p] = d
	}
	return out
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func m(v any) doc {
	d, _ := v.(doc)
	return d
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// templatesOf returns the templates of one export file.
func templatesOf(d doc) []doc {
	var out []doc
	for _, t := range list(m(d["zabbix_export"])["templates"]) {
		out = append(out, m(t))
	}
	return out
}

// itemsOf returns a template's items and item prototypes, each with the
// discovery rule it belongs to (nil for plain items).
type itemRef struct {
	item doc
	rule doc
}

func itemsOf(tpl doc) []itemRef {
	var out []itemRef
	for _, it := range list(tpl["items"]) {
		out = append(out, itemRef{item: m(it)})
	}
	for _, r := range list(tpl["discovery_rules"]) {
		for _, it := range list(m(r)["item_prototypes"]) {
			out = append(out, itemRef{item: m(it), rule: m(r)})
		}
	}
	return out
}

func TestFilesMatchGenerator(t *testing.T) {
	want := map[string]bool{}
	for _, f := range Files() {
		want[f.Name] = true
		b, err := Render(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.Name)
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./templates)", f.Name, err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from the generator's output: run go generate ./templates", f.Name)
		}
	}
	paths, _ := filepath.Glob("*.yaml")
	for _, p := range paths {
		if !want[p] {
			t.Errorf("%s is not produced by the generator", p)
		}
	}
}

func TestExportFormat(t *testing.T) {
	for name, d := range loadFiles(t) {
		ex := m(d["zabbix_export"])
		if ex == nil {
			t.Fatalf("%s: no zabbix_export", name)
		}
		if v := str(ex["version"]); v != "6.0" {
			t.Errorf("%s: version %q, want 6.0 (imports into 6.0 through 7.x)", name, v)
		}
		tpls := templatesOf(d)
		if len(tpls) != 1 {
			t.Errorf("%s: %d templates, want 1", name, len(tpls))
		}
		groups := map[string]bool{}
		for _, g := range list(ex["groups"]) {
			groups[str(m(g)["name"])] = true
		}
		for _, tpl := range tpls {
			if str(tpl["template"]) == "" || str(tpl["name"]) == "" {
				t.Errorf("%s: template without name", name)
			}
			for _, g := range list(tpl["groups"]) {
				if !groups[str(m(g)["name"])] {
					t.Errorf("%s: template group %q not declared in groups", name, str(m(g)["name"]))
				}
			}
		}
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)

func TestUUIDsUniqueAndWellFormed(t *testing.T) {
	seen := map[string]string{}
	var walk func(file, path string, v any)
	walk = func(file, path string, v any) {
		switch x := v.(type) {
		case doc:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k == "uuid" {
					u := str(x[k])
					if !uuidV4.MatchString(u) {
						t.Errorf("%s %s: uuid %q is not 32 lower-case hex digits in UUIDv4 layout", file, path, u)
					}
					where := file + " " + path
					if strings.HasPrefix(path, "/zabbix_export/groups/") {
						// The same group in several files is one object:
						// same name, same uuid; distinct groups differ.
						where = "group " + path
					}
					if prev, dup := seen[u]; dup && prev != where {
						t.Errorf("uuid %s used twice: %s and %s", u, prev, where)
					}
					seen[u] = where
					continue
				}
				walk(file, path+"/"+k, x[k])
			}
		case []any:
			for _, e := range x {
				walk(file, path+"/"+str(m(e)["name"])+str(m(e)["key"])+str(m(e)["host"])+str(m(e)["expression"]), e)
			}
		}
	}
	files := loadFiles(t)
	for name, d := range files {
		walk(name, "", d)
	}
	// Objects that must carry a uuid in the 6.0 format.
	for name, d := range files {
		for _, tpl := range templatesOf(d) {
			check := func(kind string, o doc) {
				if str(o["uuid"]) == "" {
					t.Errorf("%s: %s %q has no uuid", name, kind, str(o["name"])+str(o["key"])+str(o["host"]))
				}
			}
			check("template", tpl)
			for _, r := range itemsOf(tpl) {
				check("item", r.item)
				for _, tr := range append(list(r.item["triggers"]), list(r.item["trigger_prototypes"])...) {
					check("trigger", m(tr))
				}
			}
			for _, r := range list(tpl["discovery_rules"]) {
				check("discovery rule", m(r))
				for _, h := range list(m(r)["host_prototypes"]) {
					check("host prototype", m(h))
				}
			}
			for _, v := range list(tpl["valuemaps"]) {
				check("value map", m(v))
			}
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d uuids found: the walk is broken", len(seen))
	}
}

// Parameter positions of the plugin's keys (0-based; see the plugin's
// metric table): all three start with method, hostname, name.
var keyParams = map[string]struct {
	max                       int
	properties, counter, name int
}{
	"vpoller.discover": {max: 6, properties: 3, counter: 4, name: 2},
	"vpoller.poll":     {max: 11, properties: 3, counter: 7, name: 2},
	"vpoller.get":      {max: 11, properties: 3, counter: 7, name: 2},
	"vpoller.status":   {max: 2},
	"vpoller.events":   {max: 3},
}

// statusFields are the top-level fields of the proxy's and the worker's
// management status (their own tests pin the lists).
var statusFields = map[string][]string{
	"proxy": {"status", "hostname", "mgmt", "frontend", "backend", "workers", "outstanding", "served", "redispatched",
		"held", "held_bytes", "refused_held_full", "lost_twice", "too_large", "expired", "frontend_connections", "backend_connections", "security"},
	"worker": {"status", "hostname", "proxy", "mgmt", "db", "concurrency", "helpers", "tasks", "agents", "requests", "in_flight",
		"connected", "vsphere", "lanes", "security"},
}

func param(k lld.ItemKey, i int) string {
	if i < len(k.Params) {
		return k.Params[i]
	}
	return ""
}

// checkVPollerKey checks one vpoller.* key against the method catalogue.
// isRule tells whether it is the key of a discovery rule.
func checkVPollerKey(t *testing.T, where, key string, isRule bool) {
	t.Helper()
	k, err := lld.ParseItemKey(key)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	shape, ok := keyParams[k.Name]
	if !ok {
		t.Errorf("%s: %q is not a key of the vPoller plugin", where, k.Name)
		return
	}
	if len(k.Params) > shape.max {
		t.Errorf("%s: %s takes at most %d parameters, has %d", where, k.Name, shape.max, len(k.Params))
	}
	if k.Name == "vpoller.status" {
		if _, ok := statusFields[param(k, 0)]; !ok || len(k.Params) != 2 || param(k, 1) == "" {
			t.Errorf("%s: want vpoller.status[proxy|worker,<mgmt>]", where)
		}
		return
	}
	if k.Name == "vpoller.events" { // hostname,<name>,<endpoint>
		if param(k, 0) != MacroAgent || isRule {
			t.Errorf("%s: want vpoller.events[%s,...] on an item", where, MacroAgent)
		}
		return
	}
	method := param(k, 0)
	mi, ok := vpoller.Method(method)
	if !ok {
		t.Errorf("%s: unknown vPoller method %q", where, method)
		return
	}
	if got := param(k, 1); got != MacroAgent {
		t.Errorf("%s: hostname parameter %q, want %s", where, got, MacroAgent)
	}
	switch k.Name {
	case "vpoller.discover":
		if zm, _ := lld.Lookup(method); zm.Plugin != lld.KindLLD {
			t.Errorf("%s: %s is not a discovery method (plugin kind %v): use vpoller.poll or vpoller.get", where, method, zm.Plugin)
		}
		if !isRule {
			t.Errorf("%s: vpoller.discover used by an item, not a discovery rule", where)
		}
	case "vpoller.poll":
		if zm, _ := lld.Lookup(method); zm.Plugin != lld.KindItem {
			t.Errorf("%s: %s is not an item method (plugin kind %v)", where, method, zm.Plugin)
		}
		if param(k, shape.properties) == "" {
			t.Errorf("%s: vpoller.poll without the property to return", where)
		}
	case "vpoller.get":
		if mi.Shape == vpoller.ObjectResult {
			t.Errorf("%s: %s returns one object, not a list: vpoller.get needs a list result", where, method)
		}
	}
	if isRule && k.Name != "vpoller.discover" {
		t.Errorf("%s: discovery rule uses %s, want vpoller.discover", where, k.Name)
	}
	for _, req := range mi.Required {
		var v string
		switch req {
		case vpoller.KeyName:
			v = param(k, shape.name)
		case vpoller.KeyProperties:
			v = param(k, shape.properties)
		case vpoller.KeyCounterName:
			v = param(k, shape.counter)
		case vpoller.KeyKey: // right after name and properties in all three keys
			v = param(k, shape.properties+1)
		default:
			t.Errorf("%s: %s requires %q, which the templates never pass", where, method, req)
			continue
		}
		if v == "" {
			t.Errorf("%s: %s requires %q but the key leaves it empty", where, method, req)
		}
	}
	if c := param(k, shape.counter); c != "" && len(strings.Split(c, ".")) != 4 {
		t.Errorf("%s: counter %q is not <group>.<name>.<unit>.<rollup>", where, c)
	}
}

func TestVPollerKeys(t *testing.T) {
	n := 0
	for name, d := range loadFiles(t) {
		for _, tpl := range templatesOf(d) {
			for _, r := range itemsOf(tpl) {
				key := str(r.item["key"])
				// Dependent items are not polled: only agent items are plugin keys.
				if strings.HasPrefix(key, "vpoller.") && str(r.item["type"]) != "DEPENDENT" {
					checkVPollerKey(t, name+" item "+key, key, false)
					n++
				}
			}
			for _, r := range list(tpl["discovery_rules"]) {
				key := str(m(r)["key"])
				if strings.HasPrefix(key, "vpoller.") && str(m(r)["type"]) != "DEPENDENT" {
					checkVPollerKey(t, name+" rule "+key, key, true)
					n++
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d vpoller.* keys checked", n)
	}
}

// Fields of the result objects of methods whose results do not follow the
// requested properties (spec section 4).
var fixedFields = map[string][]string{
	"session.get":          {"key", "userName", "fullName", "loginTime", "lastActiveTime", "ipAddress", "userAgent", "callCount"},
	"vm.snapshot.get":      {"createTime", "description", "id", "name", "quiesced", "state"},
	"datacenter.alarm.get": {"key", "info", "time", "entity", "acknowledged", "overallStatus", "acknowledgedByUser"},
	"dvswitch.port.get":    {"key", "portgroup", "connectee", "connecteeType", "linkUp", "blocked"},
	"host.pnic.discover":   {"instance", "mac", "driver", "linkSpeed"},

	// license, certificate, appliance and vSAN methods
	"license.discover":        {"key", "name", "editionKey", "productName", "costUnit", "total", "used", "expirationDate"},
	"host.license.get":        {"name", "key", "licenseName", "editionKey", "expirationDate"},
	"host.certificate.get":    {"name", "subject", "issuer", "notBefore", "notAfter", "daysLeft", "sha256"},
	"vcenter.certificate.get": {"name", "subject", "issuer", "notBefore", "notAfter", "daysLeft", "sha256"},
	"appliance.health.get": {"system", "load", "mem", "storage", "database", "swap", "services", "servicesStopped",
		"servicesUnhealthy", "backupStatus", "backupType", "backupTime"},
	"vsan.cluster.get": {"name", "health", "healthDescription", "totalCapacity", "freeCapacity", "usedCapacity",
		"resyncBytes", "resyncObjects", "resyncETA"},
}

// masterFields returns the top-level fields a master item's JSON holds.
func masterFields(t *testing.T, key string) map[string]bool {
	k, err := lld.ParseItemKey(key)
	out := map[string]bool{}
	if err == nil && k.Name == "vpoller.status" {
		for _, f := range statusFields[param(k, 0)] {
			out[f] = true
		}
		return out
	}
	if err != nil || k.Name != "vpoller.get" {
		t.Errorf("master item %q is not a vpoller.get or vpoller.status key", key)
		return nil
	}
	method := param(k, 0)
	if f, ok := fixedFields[method]; ok {
		for _, x := range f {
			out[x] = true
		}
		return out
	}
	for _, p := range strings.Split(param(k, 3), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out[p] = true
		}
	}
	if strings.HasPrefix(method, "datastore.") {
		out["info.url"] = true // always included by the worker
	}
	if len(out) == 0 {
		t.Errorf("master item %q requests no properties", key)
	}
	return out
}

var (
	// $[0]['prop']... : the property of the single object of a *.get reply.
	firstProp = regexp.MustCompile(`^\$\[0\]\['([^']+)'\]`)
	// $[?(@.field==...)].field2... : filter over a list of fixed-shape entries.
	filterPath = regexp.MustCompile(`^\$\[\?\(@\.([A-Za-z]+)==[^)]*\)\]\.([A-Za-z]+)`)
	// $.field, $.field.sub, $.lanes['{#X}'].sub: a status object's field.
	statusPath = regexp.MustCompile(`^\$\.([a-z_]+)(\.|\[|$)`)
	// o['prop'] / [0]['prop'] in JavaScript steps.
	jsProp = regexp.MustCompile(`\[\s*'([A-Za-z][A-Za-z.]*)'\s*\]`)
)

// referencedProps returns the master fields a preprocessing step reads.
func referencedProps(t *testing.T, where string, step doc) []string {
	params := list(step["parameters"])
	p := ""
	if len(params) > 0 {
		p = str(params[0])
	}
	switch str(step["type"]) {
	case "JSONPATH":
		if p == "$.length()" {
			return nil
		}
		if s := firstProp.FindStringSubmatch(p); s != nil {
			return []string{s[1]}
		}
		if s := filterPath.FindStringSubmatch(p); s != nil {
			return []string{s[1], s[2]}
		}
		if s := statusPath.FindStringSubmatch(p); s != nil {
			return []string{s[1]}
		}
		t.Errorf("%s: JSONPath %q has a shape this test does not know", where, p)
	case "JAVASCRIPT":
		var out []string
		for _, s := range jsProp.FindAllStringSubmatch(p, -1) {
			out = append(out, s[1])
		}
		return out
	}
	return nil
}

func TestDependentItemsReadRequestedProperties(t *testing.T) {
	checked := 0
	for name, d := range loadFiles(t) {
		for _, tpl := range templatesOf(d) {
			keys := map[string]doc{}
			for _, r := range itemsOf(tpl) {
				keys[str(r.item["key"])] = r.item
			}
			for _, r := range itemsOf(tpl) {
				it := r.item
				if str(it["type"]) != "DEPENDENT" {
					continue
				}
				where := name + " " + str(it["key"])
				mk := str(m(it["master_item"])["key"])
				master, ok := keys[mk]
				if !ok {
					t.Errorf("%s: master item %q not in the template", where, mk)
					continue
				}
				if str(master["type"]) == "DEPENDENT" {
					t.Errorf("%s: master %q is itself dependent", where, mk)
				}
				fields := masterFields(t, mk)
				steps := list(it["preprocessing"])
				if len(steps) == 0 {
					t.Errorf("%s: dependent item without preprocessing", where)
				}
				for _, s := range steps {
					for _, p := range referencedProps(t, where, m(s)) {
						checked++
						if !fields[p] {
							t.Errorf("%s: reads %q, which master %s does not request", where, p, mk)
						}
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d property references checked", checked)
	}
}

func TestHostPrototypesLinkExistingTemplates(t *testing.T) {
	files := loadFiles(t)
	exist := map[string]bool{}
	for _, d := range files {
		for _, tpl := range templatesOf(d) {
			exist[str(tpl["template"])] = true
		}
	}
	linked := map[string]bool{}
	for name, d := range files {
		groups := map[string]bool{}
		for _, g := range list(m(d["zabbix_export"])["groups"]) {
			groups[str(m(g)["name"])] = true
		}
		for _, tpl := range templatesOf(d) {
			for _, r := range list(tpl["discovery_rules"]) {
				for _, hp := range list(m(r)["host_prototypes"]) {
					h := m(hp)
					where := name + " host prototype " + str(h["host"])
					if !strings.Contains(str(h["host"]), "{#") {
						t.Errorf("%s: technical name has no LLD macro", where)
					}
					tpls := list(h["templates"])
					if len(tpls) == 0 {
						t.Errorf("%s: links no template", where)
					}
					for _, lt := range tpls {
						n := str(m(lt)["name"])
						linked[n] = true
						if !exist[n] {
							t.Errorf("%s: links template %q that no file defines", where, n)
						}
					}
					for _, gl := range list(h["group_links"]) {
						if g := str(m(m(gl)["group"])["name"]); !groups[g] {
							t.Errorf("%s: group %q not declared in the file's groups", where, g)
						}
					}
					macros := map[string]string{}
					for _, mc := range list(h["macros"]) {
						macros[str(m(mc)["macro"])] = str(m(mc)["value"])
					}
					if !strings.HasPrefix(macros[MacroAgent], "{#") {
						t.Errorf("%s: does not pass %s down (macros %v)", where, MacroAgent, macros)
					}
					// Discovered hosts inherit the vPoller agent interface, or
					// (VMs with a guest interface) have it as their main one.
					if ci := str(h["custom_interfaces"]); ci != "" && ci != "NO" {
						ifs := list(h["interfaces"])
						if len(ifs) == 0 || str(m(ifs[0])["ip"]) != "{#VPOLLER.AGENT.ADDRESS}" || str(m(ifs[0])["default"]) == "NO" {
							t.Errorf("%s: custom interfaces %v: the main agent interface must be the vPoller agent's", where, ifs)
						}
					}
				}
			}
		}
	}
	for _, want := range []string{TplHypervisor, TplVM, TplDatastore, TplCluster, TplDatacenter, TplResourcePool, TplDatastoreCluster} {
		if !linked[want] {
			t.Errorf("no host prototype links %q", want)
		}
	}
}

// itemQuery is one /host/key reference of a trigger expression or a
// calculated item's formula (host empty: the item's own host).
type itemQuery struct{ host, key string }

// itemQueries returns every item query "(/host/key" of an expression. Keys
// are cut with the agent's key grammar (quoted and array parameters may
// hold ',' ')' '/'), so long vpoller.* keys with macros are read whole.
func itemQueries(expr string) ([]itemQuery, error) {
	var out []itemQuery
	for i := 0; i+1 < len(expr); i++ {
		if expr[i] != '(' || expr[i+1] != '/' {
			continue
		}
		rest := expr[i+2:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return nil, fmt.Errorf("%q: item query at %d has no key", expr, i)
		}
		host, tail := rest[:slash], rest[slash+1:]
		_, after, err := lld.CutItemKey(tail)
		if err != nil {
			return nil, fmt.Errorf("%q: item query at %d: %w", expr, i, err)
		}
		n := len(tail) - len(after)
		out = append(out, itemQuery{host: host, key: tail[:n]})
		i += 2 + slash + n
	}
	return out, nil
}

// refProblems lists every reference of one export file that does not
// resolve inside its own template: trigger and trigger prototype
// expressions, calculated items' formulas, trigger dependencies, graph
// items (graphs are top level in the 6.0 format, items named by template
// and key) and dashboard widgets (graphs by template and name, items by
// template and key). checked counts the references looked at.
func refProblems(d doc) (problems []string, checked int) {
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	graphs := list(m(d["zabbix_export"])["graphs"])
	for _, tpl := range templatesOf(d) {
		tname := str(tpl["template"])
		plain, protos := map[string]bool{}, map[string]bool{}
		for _, r := range itemsOf(tpl) {
			k := str(r.item["key"])
			if plain[k] || protos[k] {
				bad("item key %q defined twice", k)
			}
			if r.rule == nil {
				plain[k] = true
			} else {
				protos[k] = true
			}
		}
		// An item query must name this template (or no host, in formulas)
		// and an item it can see: prototypes see items and prototypes.
		resolve := func(what, expr string, inProto, hostless bool) {
			qs, err := itemQueries(expr)
			if err != nil {
				bad("%s: %v", what, err)
				return
			}
			if len(qs) == 0 {
				bad("%s %q references no item", what, expr)
			}
			for _, q := range qs {
				checked++
				if q.host != tname && !(hostless && q.host == "") {
					bad("%s %q references template %q, not %q", what, expr, q.host, tname)
				}
				if !plain[q.key] && !(inProto && protos[q.key]) {
					bad("%s %q references unknown item %q", what, expr, q.key)
				}
			}
		}
		triggers := map[string]bool{}
		var deps []doc
		for _, r := range itemsOf(tpl) {
			inProto := r.rule != nil
			if str(r.item["type"]) == "CALCULATED" {
				resolve("calculated item "+str(r.item["key"]), str(r.item["params"]), inProto, true)
			}
			for _, tr := range append(list(r.item["triggers"]), list(r.item["trigger_prototypes"])...) {
				t := m(tr)
				resolve(fmt.Sprintf("trigger %q", str(t["name"])), str(t["expression"]), inProto, false)
				if rec := str(t["recovery_expression"]); rec != "" {
					resolve(fmt.Sprintf("trigger %q recovery", str(t["name"])), rec, inProto, false)
				}
				if str(t["priority"]) == "" {
					bad("trigger %q has no severity", str(t["name"]))
				}
				triggers[str(t["name"])+"\x00"+str(t["expression"])] = true
				for _, dp := range list(t["dependencies"]) {
					deps = append(deps, m(dp))
				}
			}
		}
		for _, dp := range deps {
			checked++
			if !triggers[str(dp["name"])+"\x00"+str(dp["expression"])] {
				bad("dependency on trigger %q (%s) that the template does not define", str(dp["name"]), str(dp["expression"]))
			}
		}
		names := map[string]bool{}
		for _, g := range graphs {
			gname := str(m(g)["name"])
			mine := false
			for _, gi := range list(m(g)["graph_items"]) {
				it := m(m(gi)["item"])
				checked++
				if str(it["host"]) == tname {
					mine = true
				} else {
					bad("graph %q: item %q of template %q, not %q", gname, str(it["key"]), str(it["host"]), tname)
				}
				if !plain[str(it["key"])] {
					bad("graph %q references unknown item %q", gname, str(it["key"]))
				}
			}
			if !mine {
				continue
			}
			if names[gname] {
				bad("graph name %q used twice", gname)
			}
			names[gname] = true
		}
		// Graph prototypes: their items are the rule's prototypes or the
		// template's items.
		protoGraphs := map[string]bool{}
		for _, r := range list(tpl["discovery_rules"]) {
			ruleProtos := map[string]bool{}
			for _, p := range list(m(r)["item_prototypes"]) {
				ruleProtos[str(m(p)["key"])] = true
			}
			for _, g := range list(m(r)["graph_prototypes"]) {
				gname := str(m(g)["name"])
				if protoGraphs[gname] {
					bad("graph prototype name %q used twice", gname)
				}
				protoGraphs[gname] = true
				for _, gi := range list(m(g)["graph_items"]) {
					it := m(m(gi)["item"])
					checked++
					if str(it["host"]) != tname || !(plain[str(it["key"])] || ruleProtos[str(it["key"])]) {
						bad("graph prototype %q references unknown item %q of %q", gname, str(it["key"]), str(it["host"]))
					}
				}
			}
		}
		for _, db := range list(tpl["dashboards"]) {
			dname := str(m(db)["name"])
			for _, pg := range list(m(db)["pages"]) {
				for _, w := range list(m(pg)["widgets"]) {
					for _, f := range list(m(w)["fields"]) {
						fv := m(m(f)["value"])
						switch str(m(f)["type"]) {
						case "GRAPH":
							checked++
							if str(fv["host"]) != tname || !names[str(fv["name"])] {
								bad("dashboard %q: widget graph %q of %q does not exist", dname, str(fv["name"]), str(fv["host"]))
							}
						case "GRAPH_PROTOTYPE":
							checked++
							if str(fv["host"]) != tname || !protoGraphs[str(fv["name"])] {
								bad("dashboard %q: widget graph prototype %q of %q does not exist", dname, str(fv["name"]), str(fv["host"]))
							}
						case "ITEM":
							checked++
							if str(fv["host"]) != tname || !plain[str(fv["key"])] {
								bad("dashboard %q: widget item %q of %q does not exist", dname, str(fv["key"]), str(fv["host"]))
							}
						}
					}
				}
			}
		}
	}
	return problems, checked
}

func TestReferencesResolve(t *testing.T) {
	total := 0
	for name, d := range loadFiles(t) {
		problems, n := refProblems(d)
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
		total += n
	}
	// 2026-11: 129 references (triggers, formulas, dependencies,
	// graphs, widgets); far fewer means the walk lost something.
	t.Logf("%d references resolve", total)
	if total < 120 {
		t.Errorf("only %d references checked", total)
	}
}

// copyDoc deep-copies a loaded export through YAML.
func copyDoc(t *testing.T, d doc) doc {
	t.Helper()
	raw, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out doc
	if err := yaml.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// findItem returns the item (or item prototype) of the file's template
// with the key.
func findItem(t *testing.T, d doc, key string) doc {
	t.Helper()
	for _, r := range itemsOf(templatesOf(d)[0]) {
		if str(r.item["key"]) == key {
			return r.item
		}
	}
	t.Fatalf("no item %q", key)
	return nil
}

// TestRefProblemsCatchBreakage breaks one reference of a copy of the VM
// template per case and wants refProblems to name it: the check above
// would otherwise pass vacuously.
func TestRefProblemsCatchBreakage(t *testing.T) {
	files := loadFiles(t)
	vm := files["vpoller_vm.yaml"]
	if vm == nil {
		t.Fatal("vpoller_vm.yaml not loaded")
	}
	graph0 := func(d doc) doc { return m(list(m(d["zabbix_export"])["graphs"])[0]) }
	widgetField := func(d doc) doc {
		db := m(list(templatesOf(d)[0]["dashboards"])[0])
		w := m(list(m(list(db["pages"])[0])["widgets"])[0])
		for _, f := range list(w["fields"]) {
			if str(m(f)["type"]) == "GRAPH" {
				return m(m(f)["value"])
			}
		}
		t.Fatal("first widget has no graph field")
		return nil
	}
	firstTrigger := func(it doc, kind string) doc { return m(list(it[kind])[0]) }
	// graphProto0 is the first graph prototype of the first rule with one.
	graphProto0 := func(d doc) doc {
		for _, r := range list(templatesOf(d)[0]["discovery_rules"]) {
			if gp := list(m(r)["graph_prototypes"]); len(gp) > 0 {
				return m(gp[0])
			}
		}
		t.Fatal("no graph prototype")
		return nil
	}
	protoWidgetField := func(d doc) doc {
		db := m(list(templatesOf(d)[0]["dashboards"])[0])
		for _, w := range list(m(list(db["pages"])[0])["widgets"]) {
			for _, f := range list(m(w)["fields"]) {
				if str(m(f)["type"]) == "GRAPH_PROTOTYPE" {
					return m(m(f)["value"])
				}
			}
		}
		t.Fatal("no graph prototype widget")
		return nil
	}
	cases := []struct {
		name  string
		brk   func(d doc)
		wants string
	}{
		{"graph item key", func(d doc) {
			m(m(list(graph0(d)["graph_items"])[0])["item"])["key"] = "vsphere.vm.nope"
		}, `references unknown item "vsphere.vm.nope"`},
		{"graph item of another template", func(d doc) {
			m(m(list(graph0(d)["graph_items"])[0])["item"])["host"] = TplHypervisor
		}, `of template "vPoller Hypervisor"`},
		{"graph name twice", func(d doc) {
			gs := list(m(d["zabbix_export"])["graphs"])
			m(gs[1])["name"] = str(m(gs[0])["name"])
		}, "used twice"},
		{"dashboard graph name", func(d doc) { widgetField(d)["name"] = "VM: gone" }, `widget graph "VM: gone"`},
		{"dashboard graph host", func(d doc) { widgetField(d)["host"] = TplCluster }, `of "vPoller Cluster" does not exist`},
		{"graph prototype item key", func(d doc) {
			m(m(list(graphProto0(d)["graph_items"])[0])["item"])["key"] = "vsphere.vm.nope[{#X}]"
		}, `references unknown item "vsphere.vm.nope[{#X}]"`},
		{"dashboard graph prototype name", func(d doc) { protoWidgetField(d)["name"] = "Disk {#X}: gone" },
			`widget graph prototype "Disk {#X}: gone"`},
		{"trigger key", func(d doc) {
			tr := firstTrigger(findItem(t, d, "vsphere.vm.power.state"), "triggers")
			tr["expression"] = strings.Replace(str(tr["expression"]), "vsphere.vm.power.state", "vsphere.vm.power.stat", 1)
		}, `unknown item "vsphere.vm.power.stat"`},
		{"trigger with a macro in its time", func(d doc) {
			tr := firstTrigger(findItem(t, d, vmMemBallooned), "triggers")
			tr["expression"] = strings.Replace(str(tr["expression"]), vmMemBallooned, "vsphere.vm.memory.balloon", 1)
		}, `unknown item "vsphere.vm.memory.balloon"`},
		{"formula with a long perf key", func(d doc) {
			it := findItem(t, d, vmCPUReady)
			it["params"] = strings.Replace(str(it["params"]), "cpu.ready.millisecond.summation", "cpu.ready.millisecond.summatio", 1)
		}, `cpu.ready.millisecond.summatio]`},
		{"trigger of another template", func(d doc) {
			tr := firstTrigger(findItem(t, d, "vsphere.vm.status"), "triggers")
			tr["expression"] = strings.Replace(str(tr["expression"]), "/"+TplVM+"/", "/"+TplHypervisor+"/", 1)
		}, `references template "vPoller Hypervisor"`},
		{"trigger prototype key", func(d doc) {
			tr := firstTrigger(findItem(t, d, "vsphere.vm.fs.pfree[{#VSPHERE.VM.DISKPATH}]"), "trigger_prototypes")
			tr["expression"] = strings.Replace(str(tr["expression"]), "fs.pfree", "fs.free.pct", 1)
		}, `unknown item "vsphere.vm.fs.free.pct[{#VSPHERE.VM.DISKPATH}]"`},
		{"trigger dependency", func(d doc) {
			tr := firstTrigger(findItem(t, d, "vsphere.vm.status"), "triggers")
			tr["expression"] = str(tr["expression"]) + " and 1=1"
		}, "that the template does not define"},
		{"calculated item formula", func(d doc) {
			it := findItem(t, d, vmCPUReady)
			it["params"] = strings.Replace(str(it["params"]), "vsphere.vm.cpu.num", "vsphere.vm.cpu.count", 1)
		}, `calculated item vsphere.vm.cpu.ready "100*last(//vpoller.poll[`},
		{"unterminated key", func(d doc) {
			it := findItem(t, d, vmCPUReady)
			it["params"] = "last(//vpoller.poll[vm.perf.metric.get,\"x)"
		}, "unterminated quoted parameter"},
	}
	if p, n := refProblems(copyDoc(t, vm)); len(p) != 0 || n == 0 {
		t.Fatalf("unbroken copy: %d references, problems %v", n, p)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := copyDoc(t, vm)
			c.brk(d)
			problems, _ := refProblems(d)
			for _, p := range problems {
				if strings.Contains(p, c.wants) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %q", c.wants, problems)
		})
	}
}

func TestItemQueries(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []itemQuery
	}{
		{`last(/T a/k)=1`, []itemQuery{{"T a", "k"}}},
		{`min(/T/k[a,"b,)/c"],5m)>{$X} and last(//j)<>"x"`, []itemQuery{{"T", `k[a,"b,)/c"]`}, {"", "j"}}},
		{`100*last(//p[m,{$H},,,,c.d.e.f])/(20000*last(//n))`, []itemQuery{{"", "p[m,{$H},,,,c.d.e.f]"}, {"", "n"}}},
		{`nodata(/T/k[[a,b],c],{$N})=1`, []itemQuery{{"T", "k[[a,b],c]"}}},
		{`1=1`, nil},
	} {
		got, err := itemQueries(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %q, want %q", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{`last(/T)`, `last(/T/)`, `last(/T/k[a`} {
		if _, err := itemQueries(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// Items that may be unsupported carry the optional tag with a known reason,
// and perf counters are always optional.
func TestOptionalItemsAreDocumented(t *testing.T) {
	for name, d := range loadFiles(t) {
		for _, tpl := range templatesOf(d) {
			for _, r := range itemsOf(tpl) {
				key := str(r.item["key"])
				var opt string
				for _, tg := range list(r.item["tags"]) {
					if str(m(tg)["tag"]) == TagOptional {
						opt = str(m(tg)["value"])
					}
				}
				if strings.Contains(key, ".perf.metric.get,") && opt != OptionalPerf {
					t.Errorf("%s: perf item %s is not tagged %s: %s", name, key, TagOptional, OptionalPerf)
				}
				if opt != "" && !optionalReasons[opt] {
					t.Errorf("%s: %s: unknown optional reason %q", name, key, opt)
				}
			}
		}
	}
}

// vcenterRules returns the discovery rules of the committed vCenter file.
func vcenterRules(t *testing.T) []doc {
	t.Helper()
	d := loadFiles(t)["vpoller_vcenter.yaml"]
	if d == nil {
		t.Fatal("vpoller_vcenter.yaml not loaded")
	}
	var out []doc
	for _, r := range list(templatesOf(d)[0]["discovery_rules"]) {
		// license, certificate, appliance and vSAN methods: the license and
		// vSAN cluster discoveries make item prototypes on the vCenter
		// host, not hosts (licenses have no datacenter, no moref).
		if k, _ := lld.ParseItemKey(str(m(r)["key"])); param(k, 0) == "license.discover" || param(k, 0) == "vsan.cluster.discover" {
			continue
		}
		out = append(out, m(r))
	}
	return out
}

// Every object discovery is filtered by name (include and exclude) and,
// where the discovery gives it, datacenter and cluster, all conditions
// AND-ed, with defaults that match everything; VMs also by power state
// and template flag.
func TestObjectDiscoveriesFiltered(t *testing.T) {
	d := loadFiles(t)["vpoller_vcenter.yaml"]
	macros := map[string]string{}
	for _, mc := range list(templatesOf(d)[0]["macros"]) {
		macros[str(m(mc)["macro"])] = str(m(mc)["value"])
	}
	rules := vcenterRules(t)
	if len(rules) < len(objectKinds)+2 { // + the VM guest interface rule, + distributed switches
		t.Fatalf("%d discovery rules", len(rules))
	}
	for _, r := range rules {
		k, _ := lld.ParseItemKey(str(r["key"]))
		method := param(k, 0)
		where := str(r["name"])
		f := m(r["filter"])
		if f == nil {
			t.Errorf("%s: no filter", where)
			continue
		}
		if str(f["evaltype"]) != "AND" {
			t.Errorf("%s: evaltype %q, want AND (conditions on one macro would be OR-ed)", where, str(f["evaltype"]))
		}
		conds := map[string]string{} // macro+operator -> value
		ids := map[string]bool{}
		for _, c := range list(f["conditions"]) {
			c := m(c)
			op := str(c["operator"])
			if op == "" {
				op = "MATCHES_REGEX"
			}
			conds[str(c["macro"])+" "+op] = str(c["value"])
			if ids[str(c["formulaid"])] {
				t.Errorf("%s: formula id %s twice", where, str(c["formulaid"]))
			}
			ids[str(c["formulaid"])] = true
			v := str(c["value"])
			if def, ok := macros[v]; strings.HasPrefix(v, "{$") && !ok {
				t.Errorf("%s: filter macro %s not defined on the template", where, v)
			} else if ok && strings.Contains(str(c["macro"]), "NAME") && def != ".*" && def != NotMatchesDefault {
				t.Errorf("%s: %s defaults to %q: the name filters must match everything by default", where, v, def)
			}
		}
		name := lld.Macro(lld.MacroPrefix(method), "name")
		if conds[name+" MATCHES_REGEX"] == "" || conds[name+" NOT_MATCHES_REGEX"] == "" {
			t.Errorf("%s: no name include/exclude on %s: %v", where, name, conds)
		}
		if conds["{#VPOLLER.DATACENTER} MATCHES_REGEX"] != MacroDatacenterMatches || conds["{#VPOLLER.DATACENTER} NOT_MATCHES_REGEX"] != MacroDatacenterNotMatches {
			t.Errorf("%s: no datacenter include/exclude: %v", where, conds)
		}
		switch method {
		case "host.discover", "vm.discover", "cluster.discover", "resource.pool.discover":
			if conds["{#VPOLLER.CLUSTER} MATCHES_REGEX"] != MacroClusterMatches || conds["{#VPOLLER.CLUSTER} NOT_MATCHES_REGEX"] != MacroClusterNotMatches {
				t.Errorf("%s: no cluster include/exclude: %v", where, conds)
			}
		}
		if method == "vm.discover" {
			if conds["{#VSPHERE.VM.RUNTIME.POWERSTATE} MATCHES_REGEX"] != "{$VSPHERE.VM.POWERSTATE.MATCHES}" {
				t.Errorf("%s: no power state filter: %v", where, conds)
			}
			if conds["{#VSPHERE.VM.CONFIG.TEMPLATE} NOT_MATCHES_REGEX"] != "{$VSPHERE.VM.TEMPLATE.NOT_MATCHES}" || macros["{$VSPHERE.VM.TEMPLATE.NOT_MATCHES}"] != "^true$" {
				t.Errorf("%s: VM templates not excluded by default: %v", where, conds)
			}
			// The plain and the guest interface rule split the VMs.
			plain, guest := conds["{#VPOLLER.VM.AGENT.INTERFACE} NOT_MATCHES_REGEX"], conds["{#VPOLLER.VM.AGENT.INTERFACE} MATCHES_REGEX"]
			if (plain == "") == (guest == "") || plain+guest != "^1$" {
				t.Errorf("%s: guest interface split: %v", where, conds)
			}
			if !strings.Contains(param(k, 3), "config.template") || !strings.Contains(param(k, 3), "runtime.powerState") {
				t.Errorf("%s: filtered properties not requested: %s", where, param(k, 3))
			}
		}
	}
}

// Discovered hosts are keyed by the object's id, never its name: the
// discovery requests the id (moref, a VM's instance UUID), the script
// builds the technical name from it, the items get it through the host
// prototype's macros; the visible name follows the vSphere name.
func TestHostPrototypesKeyedByID(t *testing.T) {
	n := 0
	for _, r := range vcenterRules(t) {
		k, _ := lld.ParseItemKey(str(r["key"]))
		method, props := param(k, 0), param(k, 3)
		where := str(r["name"])
		prefix := lld.MacroPrefix(method)
		wantID := []string{"moref"}
		if method == "vm.discover" {
			wantID = []string{"config.instanceUuid", "moref"}
		}
		for _, p := range wantID {
			if !strings.Contains(","+props+",", ","+p+",") {
				t.Errorf("%s: discovery does not request %s (%s)", where, p, props)
			}
		}
		var script string
		for _, st := range list(r["preprocessing"]) {
			if str(m(st)["type"]) == "JAVASCRIPT" {
				script = str(list(m(st)["parameters"])[0])
			}
		}
		var want []string
		for _, p := range wantID {
			want = append(want, "'"+lld.Macro(prefix, p)+"'")
		}
		if !strings.Contains(script, "idMacros = ["+strings.Join(want, ", ")+"]") {
			t.Errorf("%s: the script does not key by %v", where, want)
		}
		for _, hp := range list(r["host_prototypes"]) {
			h := m(hp)
			n++
			if str(h["host"]) != "{#VPOLLER.HOST}" || str(h["name"]) != "{#VPOLLER.NAME}" {
				t.Errorf("%s: host %q name %q", where, str(h["host"]), str(h["name"]))
			}
			byID := false
			for _, mc := range list(h["macros"]) {
				if v := str(m(mc)["value"]); v == "{#VPOLLER.ID}" || v == "{#VSPHERE.DATASTORE.INFO.URL}" {
					byID = true
				}
				if strings.Contains(str(m(mc)["value"]), ".NAME}") && strings.HasPrefix(str(m(mc)["value"]), "{#VSPHERE.") &&
					!strings.HasPrefix(str(m(mc)["macro"]), "{$VSPHERE.DATASTORE.NAME") &&
					!strings.HasSuffix(str(m(mc)["macro"]), ".ENTITY}") { // names for alarm entities, never queried
					t.Errorf("%s: macro %s queries by name (%s)", where, str(m(mc)["macro"]), str(m(mc)["value"]))
				}
			}
			if !byID {
				t.Errorf("%s: no macro passes the id down", where)
			}
			groups := map[string]bool{}
			for _, g := range list(h["group_prototypes"]) {
				groups[str(m(g)["name"])] = true
			}
			if !groups[GroupDatacenterPrefix+"{#VPOLLER.DATACENTER}"] {
				t.Errorf("%s: no per-datacenter group prototype: %v", where, groups)
			}
			if method != "datastore.discover" && method != "datastore.cluster.discover" && method != "datacenter.discover" &&
				!groups[GroupClusterPrefix+"{#VPOLLER.CLUSTER}"] {
				t.Errorf("%s: no per-cluster group prototype: %v", where, groups)
			}
		}
	}
	if n != len(objectKinds)+1 {
		t.Errorf("%d host prototypes, want %d", n, len(objectKinds)+1)
	}
}
