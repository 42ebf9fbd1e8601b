package templates

// The types below model the subset of the Zabbix 6.0 export format
// (zabbix_export, version '6.0') these templates use. Field order is the
// order Zabbix itself exports, so that diffs against a UI export stay small;
// empty fields are omitted and take Zabbix's defaults.

// Export is the document root.
type Export struct {
	ZabbixExport Body `yaml:"zabbix_export"`
}

// Body is the content of zabbix_export.
type Body struct {
	Version   string     `yaml:"version"`
	Date      string     `yaml:"date,omitempty"`
	Groups    []Group    `yaml:"groups,omitempty"`
	Templates []Template `yaml:"templates,omitempty"`
	Triggers  []Trigger  `yaml:"triggers,omitempty"`
	Graphs    []Graph    `yaml:"graphs,omitempty"`
}

// Group is a host/template group (one kind in 6.0).
type Group struct {
	UUID string `yaml:"uuid"`
	Name string `yaml:"name"`
}

// Name references an object by name.
type Name struct {
	Name string `yaml:"name"`
}

// Template is one template.
type Template struct {
	UUID           string          `yaml:"uuid"`
	Template       string          `yaml:"template"`
	Name           string          `yaml:"name"`
	Description    string          `yaml:"description,omitempty"`
	Groups         []Name          `yaml:"groups"`
	Items          []Item          `yaml:"items,omitempty"`
	DiscoveryRules []DiscoveryRule `yaml:"discovery_rules,omitempty"`
	Tags           []Tag           `yaml:"tags,omitempty"`
	Macros         []Macro         `yaml:"macros,omitempty"`
	Dashboards     []Dashboard     `yaml:"dashboards,omitempty"`
	ValueMaps      []ValueMap      `yaml:"valuemaps,omitempty"`
	// Graphs of the template's items; the export lists them at top level.
	Graphs []Graph `yaml:"-"`
}

// Item is an item or an item prototype.
type Item struct {
	UUID      string `yaml:"uuid"`
	Name      string `yaml:"name"`
	Type      string `yaml:"type,omitempty"`
	Key       string `yaml:"key"`
	Delay     string `yaml:"delay,omitempty"`
	History   string `yaml:"history,omitempty"`
	Trends    string `yaml:"trends,omitempty"`
	ValueType string `yaml:"value_type,omitempty"`
	Units     string `yaml:"units,omitempty"`
	// Params is the formula of a CALCULATED item.
	Params      string `yaml:"params,omitempty"`
	Description string `yaml:"description,omitempty"`
	ValueMap    *Name  `yaml:"valuemap,omitempty"`
	// LogTimeFmt parses the time of LOG items' lines (vpoller.events).
	LogTimeFmt    string      `yaml:"logtimefmt,omitempty"`
	Preprocessing []Step      `yaml:"preprocessing,omitempty"`
	MasterItem    *MasterItem `yaml:"master_item,omitempty"`
	Tags          []Tag       `yaml:"tags,omitempty"`
	Triggers      []Trigger   `yaml:"triggers,omitempty"`
	TriggerProtos []Trigger   `yaml:"trigger_prototypes,omitempty"`
}

// MasterItem references the master of a dependent item by key.
type MasterItem struct {
	Key string `yaml:"key"`
}

// Step is one preprocessing step.
type Step struct {
	Type               string   `yaml:"type"`
	Parameters         []string `yaml:"parameters"`
	ErrorHandler       string   `yaml:"error_handler,omitempty"`
	ErrorHandlerParams string   `yaml:"error_handler_params,omitempty"`
}

// Trigger is a trigger or trigger prototype.
type Trigger struct {
	UUID       string `yaml:"uuid"`
	Expression string `yaml:"expression"`
	Name       string `yaml:"name"`
	OpData     string `yaml:"opdata,omitempty"`
	Priority   string `yaml:"priority,omitempty"`
	// RecoveryMode RECOVERY_EXPRESSION: the problem lasts until
	// RecoveryExpression holds (a trigger on a change, say).
	RecoveryMode       string       `yaml:"recovery_mode,omitempty"`
	RecoveryExpression string       `yaml:"recovery_expression,omitempty"`
	Description        string       `yaml:"description,omitempty"`
	ManualClose        string       `yaml:"manual_close,omitempty"`
	Dependencies       []Dependency `yaml:"dependencies,omitempty"`
	Tags               []Tag        `yaml:"tags,omitempty"`
}

// Dependency makes a trigger depend on another one (by name and expression).
type Dependency struct {
	Name       string `yaml:"name"`
	Expression string `yaml:"expression"`
}

// DiscoveryRule is a low-level discovery rule.
type DiscoveryRule struct {
	UUID           string          `yaml:"uuid"`
	Name           string          `yaml:"name"`
	Type           string          `yaml:"type,omitempty"`
	Key            string          `yaml:"key"`
	Delay          string          `yaml:"delay,omitempty"`
	Filter         *Filter         `yaml:"filter,omitempty"`
	Lifetime       string          `yaml:"lifetime,omitempty"`
	Description    string          `yaml:"description,omitempty"`
	ItemPrototypes []Item          `yaml:"item_prototypes,omitempty"`
	TriggerProtos  []Trigger       `yaml:"trigger_prototypes,omitempty"`
	GraphProtos    []Graph         `yaml:"graph_prototypes,omitempty"`
	HostPrototypes []HostPrototype `yaml:"host_prototypes,omitempty"`
	MasterItem     *MasterItem     `yaml:"master_item,omitempty"`
	Preprocessing  []Step          `yaml:"preprocessing,omitempty"`
}

// Filter is an LLD filter.
type Filter struct {
	EvalType   string      `yaml:"evaltype,omitempty"`
	Conditions []Condition `yaml:"conditions"`
}

// Condition is one LLD filter condition.
type Condition struct {
	Macro     string `yaml:"macro"`
	Value     string `yaml:"value"`
	Operator  string `yaml:"operator,omitempty"`
	FormulaID string `yaml:"formulaid"`
}

// HostPrototype creates one Zabbix host per discovered object.
type HostPrototype struct {
	UUID             string      `yaml:"uuid"`
	Host             string      `yaml:"host"`
	Name             string      `yaml:"name"`
	GroupLinks       []GroupLink `yaml:"group_links"`
	GroupPrototypes  []Name      `yaml:"group_prototypes,omitempty"`
	Templates        []Name      `yaml:"templates"`
	Macros           []Macro     `yaml:"macros,omitempty"`
	Tags             []Tag       `yaml:"tags,omitempty"`
	CustomInterfaces string      `yaml:"custom_interfaces,omitempty"`
	// Interfaces of a host prototype with custom interfaces (YES).
	Interfaces    []HostInterface `yaml:"interfaces,omitempty"`
	InventoryMode string          `yaml:"inventory_mode,omitempty"`
}

// HostInterface is a custom interface of a host prototype (an agent
// interface, by IP, unless said otherwise).
type HostInterface struct {
	Default string `yaml:"default,omitempty"` // NO for a second interface of the type
	IP      string `yaml:"ip,omitempty"`
	Port    string `yaml:"port,omitempty"`
}

// GroupLink puts discovered hosts into an existing group.
type GroupLink struct {
	Group Name `yaml:"group"`
}

// Tag is a name/value tag.
type Tag struct {
	Tag   string `yaml:"tag"`
	Value string `yaml:"value"`
}

// Macro is a user macro with its default value.
type Macro struct {
	Macro       string `yaml:"macro"`
	Value       string `yaml:"value"`
	Description string `yaml:"description,omitempty"`
}

// ValueMap maps raw values to text.
type ValueMap struct {
	UUID     string    `yaml:"uuid"`
	Name     string    `yaml:"name"`
	Mappings []Mapping `yaml:"mappings"`
}

// Mapping is one value map entry.
type Mapping struct {
	Value    string `yaml:"value"`
	NewValue string `yaml:"newvalue"`
}

// Graph is a classic graph of template items (top level of the export).
type Graph struct {
	UUID       string      `yaml:"uuid"`
	Name       string      `yaml:"name"`
	GraphItems []GraphItem `yaml:"graph_items"`
}

// GraphItem is one line of a graph.
type GraphItem struct {
	SortOrder string  `yaml:"sortorder,omitempty"`
	Color     string  `yaml:"color"`
	Item      ItemRef `yaml:"item"`
}

// ItemRef names an item of a template (or host).
type ItemRef struct {
	Host string `yaml:"host"`
	Key  string `yaml:"key"`
}

// Dashboard is a template dashboard.
type Dashboard struct {
	UUID  string          `yaml:"uuid"`
	Name  string          `yaml:"name"`
	Pages []DashboardPage `yaml:"pages"`
}

// DashboardPage is one page of a dashboard.
type DashboardPage struct {
	Widgets []Widget `yaml:"widgets"`
}

// Widget is a dashboard widget; X and Y are grid positions.
type Widget struct {
	Type   string        `yaml:"type"`
	Name   string        `yaml:"name,omitempty"`
	X      string        `yaml:"x,omitempty"`
	Y      string        `yaml:"y,omitempty"`
	Width  string        `yaml:"width"`
	Height string        `yaml:"height"`
	Fields []WidgetField `yaml:"fields"`
}

// WidgetField is one field of a widget; Value is a string, a GraphRef or
// an ItemRef.
type WidgetField struct {
	Type  string `yaml:"type"`
	Name  string `yaml:"name"`
	Value any    `yaml:"value"`
}

// GraphRef names a graph of a template.
type GraphRef struct {
	Host string `yaml:"host"`
	Name string `yaml:"name"`
}
