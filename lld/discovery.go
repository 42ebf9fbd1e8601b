package lld

import (
	"fmt"
	"strings"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// IsDiscovery reports whether Discovery handles the method: the original
// helper's LLD methods plus those our plugin also discovers with
// (net.discover, resource.pool.discover).
func (m Method) IsDiscovery() bool { return m.Helper == KindLLD || m.Plugin == KindLLD }

// Discovery returns Zabbix low-level discovery JSON {"data": [...]} for a
// reply: one entry per result object, each key k renamed
// {#VSPHERE.<PREFIX>.<K UPPER>} where PREFIX is MacroPrefix(method),
// values keeping their JSON type and the entries their key order. Two
// methods are special, as in the original: vm.disk.discover discovers over
// result[0].disk and vm.guest.net.get over result.net, both with prefix VM.
//
// style is vpoller.Python for the byte-compatible helper and
// vpoller.Compact for the plugin. An empty result gives {"data": []}
// (the original crashed on an empty vm.disk.discover result). A failed
// reply gives a *ReplyError, a method Discovery does not handle an
// *UnsupportedError, a result of the wrong shape a *ValueError matching
// ErrNoValue.
func Discovery(req *vpoller.Request, resp *vpoller.Response, style vpoller.Style) ([]byte, error) {
	method := ""
	if req != nil {
		method = req.Method
	}
	m, _ := Lookup(method)
	m.Name = method
	return DiscoveryOf(m, resp, style)
}

// DiscoveryOf is Discovery for a method already looked up (the plugin
// resolves a method once per item and passes it on).
func DiscoveryOf(m Method, resp *vpoller.Response, style vpoller.Style) ([]byte, error) {
	if resp == nil {
		return nil, noValue("no reply")
	}
	if resp.Failed() {
		return nil, &ReplyError{Msg: resp.Msg}
	}
	method := m.Name
	if !m.IsDiscovery() {
		return nil, &UnsupportedError{Method: method}
	}
	items, err := discoveryItems(method, resp.Result)
	prefix := m.Prefix
	if err != nil {
		return nil, withMethod(err, method)
	}
	data := make([]any, 0, len(items))
	for i, it := range items {
		obj, ok := asObject(it)
		if !ok {
			return nil, withMethod(noValue("result element %d is not an object", i), method)
		}
		data = append(data, macros(prefix, obj))
	}
	out, err := vpoller.Marshal(vpoller.Object{{Key: "data", Value: data}}, style)
	if err != nil {
		return nil, fmt.Errorf("lld: %s: encode discovery: %w", method, err)
	}
	return out, nil
}

// discoveryItems picks the list to discover over.
func discoveryItems(method string, result any) ([]any, error) {
	switch method {
	case "vm.disk.discover":
		first, ok, err := firstObject(result)
		if err != nil || !ok {
			return nil, err
		}
		return optionalList(first, "disk")
	case "vm.guest.net.get":
		obj, ok := asObject(result)
		if !ok {
			// Tolerate a worker that wrapped the object in a list.
			var err error
			obj, ok, err = firstObject(result)
			if err != nil || !ok {
				return nil, err
			}
		}
		return optionalList(obj, "net")
	}
	if result == nil {
		return nil, nil
	}
	list, ok := asList(result)
	if !ok {
		return nil, noValue("result is not a list")
	}
	return list, nil
}

// firstObject returns result[0] as an object; ok=false for an empty or
// absent result (nothing to discover).
func firstObject(result any) (vpoller.Object, bool, error) {
	if result == nil {
		return nil, false, nil
	}
	list, ok := asList(result)
	if !ok {
		return nil, false, noValue("result is not a list")
	}
	if len(list) == 0 {
		return nil, false, nil
	}
	obj, ok := asObject(list[0])
	if !ok {
		return nil, false, noValue("result element 0 is not an object")
	}
	return obj, true, nil
}

// optionalList returns obj[key] as a list; absent or null is empty.
func optionalList(obj vpoller.Object, key string) ([]any, error) {
	v, ok := obj.Get(key)
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := asList(v)
	if !ok {
		return nil, noValue("result %q is not a list", key)
	}
	return list, nil
}

// macros renames each key to its LLD macro. Keys that collide after
// upper-casing keep the first one's position and the last one's value,
// as a Python dict built from the same pairs does.
func macros(prefix string, obj vpoller.Object) vpoller.Object {
	out := make(vpoller.Object, 0, len(obj))
	for _, f := range obj {
		out.Set(Macro(prefix, f.Key), f.Value)
	}
	return out
}

// Macro returns the LLD macro name for a result key:
// Macro("VM", "runtime.powerState") = "{#VSPHERE.VM.RUNTIME.POWERSTATE}".
func Macro(prefix, key string) string {
	return "{#VSPHERE." + prefix + "." + strings.ToUpper(key) + "}"
}
