package lld

import "strings"

// Kind is how a Zabbix value is made of a method's reply.
type Kind int

const (
	// KindNone: no Zabbix value; the original helper answers "[zbx-helper]:
	// Do not know how to process <method> method".
	KindNone Kind = iota
	// KindItem: one value (the last result element's first property).
	KindItem
	// KindLLD: low-level discovery JSON {"data": [...]}.
	KindLLD
)

func (k Kind) String() string {
	switch k {
	case KindItem:
		return "item"
	case KindLLD:
		return "lld"
	}
	return "none"
}

// Method is what the Zabbix side knows of a vPoller method. The shared
// catalogue (vpoller.Method) knows nothing of Zabbix: the worker imports
// it, and Zabbix knowledge lives here, beside the conversions it drives.
type Method struct {
	Name string
	// Helper is the original vpoller.helpers.zabbix treatment.
	Helper Kind
	// Plugin is our plugin's, which also discovers with the methods the
	// original helper refused (net.discover, resource.pool.discover).
	Plugin Kind
	// Prefix is the LLD macro prefix: {#VSPHERE.<Prefix>.<KEY>}.
	Prefix string
}

// kinds is the Zabbix treatment of every catalogue method; a test keeps
// it and vpoller's catalogue in step.
var kinds = map[string]Method{
	"about":                       {Helper: KindItem, Plugin: KindItem},
	"cluster.alarm.get":           {Helper: KindLLD, Plugin: KindLLD},
	"cluster.discover":            {Helper: KindLLD, Plugin: KindLLD},
	"cluster.get":                 {Helper: KindItem, Plugin: KindItem},
	"cluster.perf.metric.get":     {Helper: KindItem, Plugin: KindItem},
	"cluster.perf.metric.info":    {Helper: KindLLD, Plugin: KindLLD},
	"datacenter.alarm.get":        {Helper: KindLLD, Plugin: KindLLD},
	"datacenter.discover":         {Helper: KindLLD, Plugin: KindLLD},
	"datacenter.get":              {Helper: KindItem, Plugin: KindItem},
	"datacenter.perf.metric.get":  {Helper: KindItem, Plugin: KindItem},
	"datacenter.perf.metric.info": {Helper: KindLLD, Plugin: KindLLD},
	"datastore.alarm.get":         {Helper: KindLLD, Plugin: KindLLD},
	"datastore.discover":          {Helper: KindLLD, Plugin: KindLLD},
	"datastore.get":               {Helper: KindItem, Plugin: KindItem},
	"datastore.host.get":          {Helper: KindLLD, Plugin: KindLLD},
	"datastore.perf.metric.get":   {Helper: KindItem, Plugin: KindItem},
	"datastore.perf.metric.info":  {Helper: KindLLD, Plugin: KindLLD},
	"datastore.vm.get":            {Helper: KindLLD, Plugin: KindLLD},
	"event.get":                   {Helper: KindNone, Plugin: KindNone},
	"event.latest":                {Helper: KindItem, Plugin: KindItem},
	"host.alarm.get":              {Helper: KindLLD, Plugin: KindLLD},
	"host.cluster.get":            {Helper: KindItem, Plugin: KindItem},
	"host.datastore.get":          {Helper: KindLLD, Plugin: KindLLD},
	"host.discover":               {Helper: KindLLD, Plugin: KindLLD},
	"host.get":                    {Helper: KindItem, Plugin: KindItem},
	"host.health.get":             {Helper: KindItem, Plugin: KindItem},
	"host.net.get":                {Helper: KindNone, Plugin: KindNone},
	"host.perf.metric.get":        {Helper: KindItem, Plugin: KindItem},
	"host.perf.metric.info":       {Helper: KindLLD, Plugin: KindLLD},
	"host.sensor.discover":        {Helper: KindLLD, Plugin: KindLLD},
	"host.sensor.get":             {Helper: KindItem, Plugin: KindItem},
	"host.vm.get":                 {Helper: KindLLD, Plugin: KindLLD},
	"net.discover":                {Helper: KindNone, Plugin: KindLLD},
	"net.get":                     {Helper: KindNone, Plugin: KindNone},
	"net.host.get":                {Helper: KindNone, Plugin: KindNone},
	"net.vm.get":                  {Helper: KindNone, Plugin: KindNone},
	"perf.interval.info":          {Helper: KindNone, Plugin: KindNone},
	"perf.metric.info":            {Helper: KindNone, Plugin: KindNone},
	"resource.pool.discover":      {Helper: KindNone, Plugin: KindLLD},
	"resource.pool.get":           {Helper: KindItem, Plugin: KindItem},
	"resource.pool.vm.get":        {Helper: KindLLD, Plugin: KindLLD},
	"session.get":                 {Helper: KindLLD, Plugin: KindLLD},
	"vm.alarm.get":                {Helper: KindLLD, Plugin: KindLLD},
	"vm.cpu.usage.pct":            {Helper: KindItem, Plugin: KindItem},
	"vm.cpu.usage.percent":        {Helper: KindItem, Plugin: KindItem},
	"vm.datastore.get":            {Helper: KindLLD, Plugin: KindLLD},
	"vm.discover":                 {Helper: KindLLD, Plugin: KindLLD},
	"vm.disk.discover":            {Helper: KindLLD, Plugin: KindLLD},
	"vm.disk.get":                 {Helper: KindItem, Plugin: KindItem},
	"vm.get":                      {Helper: KindItem, Plugin: KindItem},
	"vm.guest.net.get":            {Helper: KindLLD, Plugin: KindLLD},
	"vm.host.get":                 {Helper: KindItem, Plugin: KindItem},
	"vm.net.get":                  {Helper: KindNone, Plugin: KindNone},
	"vm.perf.metric.get":          {Helper: KindItem, Plugin: KindItem},
	"vm.perf.metric.info":         {Helper: KindLLD, Plugin: KindLLD},
	"vm.process.get":              {Helper: KindItem, Plugin: KindItem},
	"vm.snapshot.get":             {Helper: KindLLD, Plugin: KindLLD},
	"vsan.health.get":             {Helper: KindItem, Plugin: KindItem},

	// Ours: datastore clusters and distributed switches. Macros:
	// {#VSPHERE.DATASTORE.CLUSTER.NAME}, {#VSPHERE.DATASTORE.CLUSTER.DATASTORE.NAME},
	// {#VSPHERE.DVSWITCH.NAME}, {#VSPHERE.DVSWITCH.PORT.KEY}, ...
	"datastore.cluster.discover":      {Helper: KindLLD, Plugin: KindLLD},
	"datastore.cluster.get":           {Helper: KindItem, Plugin: KindItem},
	"datastore.cluster.datastore.get": {Helper: KindLLD, Plugin: KindLLD},
	"dvswitch.discover":               {Helper: KindLLD, Plugin: KindLLD},
	"dvswitch.get":                    {Helper: KindItem, Plugin: KindItem},
	"dvswitch.port.get":               {Helper: KindLLD, Plugin: KindLLD},

	// Ours: tags discover per object ({#VSPHERE.VM.TAG.CATEGORY}, ...) or
	// over the catalogue ({#VSPHERE.TAG.CATEGORY}, ...); a custom
	// attribute is one value (the property parameter names it).
	"tag.discover":       {Helper: KindLLD, Plugin: KindLLD},
	"vm.tag.get":         {Helper: KindLLD, Plugin: KindLLD},
	"host.tag.get":       {Helper: KindLLD, Plugin: KindLLD},
	"datastore.tag.get":  {Helper: KindLLD, Plugin: KindLLD},
	"cluster.tag.get":    {Helper: KindLLD, Plugin: KindLLD},
	"vm.attribute.get":   {Helper: KindItem, Plugin: KindItem},
	"host.attribute.get": {Helper: KindItem, Plugin: KindItem},

	// Ours: perf instances for per-disk/NIC/datastore/LUN discovery.
	// Macros: {#VSPHERE.VM.VDISK.INSTANCE}, {#VSPHERE.VM.VNIC.INSTANCE},
	// {#VSPHERE.HOST.PNIC.INSTANCE}, {#VSPHERE.HOST.DATASTORE.INSTANCE},
	// {#VSPHERE.HOST.LUN.INSTANCE}, ...
	"vm.vdisk.discover":       {Helper: KindLLD, Plugin: KindLLD},
	"vm.vnic.discover":        {Helper: KindLLD, Plugin: KindLLD},
	"host.pnic.discover":      {Helper: KindLLD, Plugin: KindLLD},
	"host.datastore.discover": {Helper: KindLLD, Plugin: KindLLD},
	"host.lun.discover":       {Helper: KindLLD, Plugin: KindLLD},
}

// Lookup returns the Zabbix facts of a method; false for a method of no
// catalogue entry.
func Lookup(method string) (Method, bool) {
	m, ok := kinds[method]
	if !ok {
		return Method{}, false
	}
	m.Name, m.Prefix = method, MacroPrefix(method)
	switch method {
	case "vm.disk.discover", "vm.guest.net.get":
		m.Prefix = "VM" // they discover over a VM's disks and NICs
	}
	return m, true
}

// MacroPrefix is the LLD macro prefix of a method: the method without its
// last dot-separated part, upper-cased ("vm.discover" -> "VM",
// "datacenter.alarm.get" -> "DATACENTER.ALARM").
func MacroPrefix(method string) string {
	i := strings.LastIndexByte(method, '.')
	if i < 0 {
		return strings.ToUpper(method)
	}
	return strings.ToUpper(method[:i])
}

// issue-18 storage/services/backup methods. host.path.discover's macros:
// {#VSPHERE.HOST.PATH.LUN}, {#VSPHERE.HOST.PATH.DISPLAYNAME}, ...; the
// others are items (a property of their one object).
func init() {
	kinds["host.path.discover"] = Method{Helper: KindLLD, Plugin: KindLLD}
	for _, m := range []string{"host.service.get", "host.ntp.get", "host.time.get", "vm.backup.get", "datastore.space.get"} {
		kinds[m] = Method{Helper: KindItem, Plugin: KindItem}
	}
}
