package lld

import (
	"strings"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

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
// It is derived from the method's catalogue row (Facts).
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

// byAction is the Zabbix treatment of each kind of request: a list of
// things is discovery, a value of one object (or its newest sample) an
// item, a stream (event.get) neither: the plugin reads it with
// vpoller.events[...].
var byAction = map[vpoller.Action]Kind{
	vpoller.ActionDiscover: KindLLD,
	vpoller.ActionGet:      KindItem,
	vpoller.ActionPerf:     KindItem,
	vpoller.ActionStream:   KindNone,
}

// exceptions are the methods whose Zabbix facts do not follow from their
// row: what the original helper does with them, which the plugin keeps
// (Prefix "" is the default, MacroPrefix). TestExceptionsAreExceptions
// fails for an entry that says what the row already gives.
var exceptions = map[string]Method{
	// Lists the original helper has no converter for: the agent's
	// counters and intervals, a network's properties (vpoller.get and
	// dependent items read them).
	"perf.metric.info":   {Helper: KindNone, Plugin: KindNone},
	"perf.interval.info": {Helper: KindNone, Plugin: KindNone},
	"net.get":            {Helper: KindNone, Plugin: KindNone},
	// One object holding a list: the helper's discovery takes a list.
	"net.host.get": {Helper: KindNone, Plugin: KindNone},
	"net.vm.get":   {Helper: KindNone, Plugin: KindNone},
	"host.net.get": {Helper: KindNone, Plugin: KindNone},
	"vm.net.get":   {Helper: KindNone, Plugin: KindNone},
	// Discoveries the original helper refuses and our plugin makes.
	"net.discover":           {Helper: KindNone, Plugin: KindLLD},
	"resource.pool.discover": {Helper: KindNone, Plugin: KindLLD},
	// They discover over a VM's disks and NICs: {#VSPHERE.VM.<KEY>}.
	"vm.disk.discover": {Helper: KindLLD, Plugin: KindLLD, Prefix: "VM"},
	"vm.guest.net.get": {Helper: KindLLD, Plugin: KindLLD, Prefix: "VM"},
}

// Lookup returns the Zabbix facts of a method; false for a method that is
// not in the catalogue.
func Lookup(method string) (Method, bool) {
	mi, ok := vpoller.Method(method)
	if !ok {
		return Method{}, false
	}
	return Facts(mi), true
}

// Facts derives the Zabbix facts of a catalogue row: the treatment of its
// kind of request and the macro prefix of its name, unless the method is
// one of the exceptions.
func Facts(mi vpoller.MethodInfo) Method {
	k := byAction[mi.Action]
	m := Method{Name: mi.Name, Helper: k, Plugin: k, Prefix: MacroPrefix(mi.Name)}
	if e, ok := exceptions[mi.Name]; ok {
		m.Helper, m.Plugin = e.Helper, e.Plugin
		if e.Prefix != "" {
			m.Prefix = e.Prefix
		}
	}
	return m
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
