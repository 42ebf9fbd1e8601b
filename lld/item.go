package lld

import (
	"fmt"
	"strings"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// IsItem reports whether Item handles the method (the original helper's
// item methods plus any our plugin polls as items).
func (m Method) IsItem() bool { return m.Helper == KindItem || m.Plugin == KindItem }

// Item returns the single value the original helper would send, in the
// value model (string, json.Number or Go number, bool, nil, list, object):
//
//   - generally result[-1][properties[0]]: the last result element's first
//     requested property. For *.perf.metric.get with properties ["value"]
//     that is the newest sample's value (samples come oldest first);
//   - vm.disk.get: result[0].disk[properties[0]];
//   - vm.process.get: the number of processes, counting only those whose
//     cmdLine contains req.Key when a key is given.
//
// A property that is present but null yields (nil, nil): vSphere left it
// unset. Errors: *ReplyError for a failed reply, *UnsupportedError for a
// method that is not an item, and a *ValueError matching ErrMissingProperty
// when the result lacks the property, or ErrNoValue for an empty result (no samples), a request without
// properties, or a result of the wrong shape. The original helper sent
// "Cannot send result: str objects only" for the last group.
func Item(req *vpoller.Request, resp *vpoller.Response) (any, error) {
	var m Method
	if req != nil {
		m, _ = Lookup(req.Method)
	}
	return ItemOf(m, req, resp)
}

// ItemOf is Item for a method already looked up.
func ItemOf(m Method, req *vpoller.Request, resp *vpoller.Response) (any, error) {
	if resp == nil {
		return nil, noValue("no reply")
	}
	if resp.Failed() {
		return nil, &ReplyError{Msg: resp.Msg}
	}
	if req == nil || !m.IsItem() {
		method := ""
		if req != nil {
			method = req.Method
		}
		return nil, &UnsupportedError{Method: method}
	}
	v, err := item(req, resp.Result)
	if err != nil {
		return nil, withMethod(err, req.Method)
	}
	return v, nil
}

func item(req *vpoller.Request, result any) (any, error) {
	if req.Method == "vm.process.get" {
		return processCount(result, req.Key)
	}
	if len(req.Properties) == 0 {
		return nil, noValue("the request names no property")
	}
	prop := req.Properties[0]
	var obj vpoller.Object
	if req.Method == "vm.disk.get" {
		first, ok, err := firstObject(result)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, noValue("empty result")
		}
		disk, ok := first.Get("disk")
		if !ok || disk == nil {
			return nil, noValue("result has no disk")
		}
		if obj, ok = asObject(disk); !ok {
			return nil, noValue("result holds a list of disks, not one (give the guest disk path as key)")
		}
	} else {
		var err error
		if obj, err = lastObject(req.Method, result); err != nil {
			return nil, err
		}
	}
	v, ok := obj.Get(prop)
	if !ok {
		return nil, &ValueError{Reason: fmt.Sprintf("the result has no property %q", prop), kind: ErrMissingProperty}
	}
	return v, nil
}

// lastObject returns result[-1]; a single-object result counts as a list
// of one.
func lastObject(method string, result any) (vpoller.Object, error) {
	if obj, ok := asObject(result); ok {
		return obj, nil
	}
	list, ok := asList(result)
	if !ok && result != nil {
		return nil, noValue("result is not a list")
	}
	if len(list) == 0 {
		if strings.HasSuffix(method, ".perf.metric.get") {
			return nil, noValue("no performance samples in the result")
		}
		return nil, noValue("empty result")
	}
	obj, ok := asObject(list[len(list)-1])
	if !ok {
		return nil, noValue("last result element is not an object")
	}
	return obj, nil
}

// processCount counts the guest processes whose cmdLine contains key (all
// of them when key is empty). A process without a textual cmdLine does not
// match a key (the original crashed on it).
func processCount(result any, key string) (int, error) {
	if result == nil {
		return 0, nil
	}
	list, ok := asList(result)
	if !ok {
		return 0, noValue("result is not a list")
	}
	if key == "" {
		return len(list), nil
	}
	n := 0
	for _, p := range list {
		obj, ok := asObject(p)
		if !ok {
			continue
		}
		cmd, _ := obj.Get("cmdLine")
		if s, ok := cmd.(string); ok && strings.Contains(s, key) {
			n++
		}
	}
	return n, nil
}
