// Package helpers holds the worker-side result formatters a request selects
// with its "helper" field. Each produces exactly the bytes the original
// Python helper of the same name sends, except where
// docs/compatibility-helpers.md lists a deliberate difference, so that
// Zabbix C modules, C clients and scripts written for the original keep
// working against our worker.
package helpers

import (
	"sort"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Helper names as clients put them in the request's "helper" field.
const (
	Zabbix  = "vpoller.helpers.zabbix"
	CZabbix = "vpoller.helpers.czabbix"
	CClient = "vpoller.helpers.cclient"
	CSV     = "vpoller.helpers.csvhelper"
)

var formatters = map[string]func(*vpoller.Request, *vpoller.Response) []byte{
	Zabbix:  zabbix,
	CZabbix: czabbix,
	CClient: cclient,
	CSV:     csvHelper,
}

// Apply formats a reply for the named helper. ok is false for an empty or
// unknown name: the worker then sends the plain reply (encoded with
// vpoller.Python), as the original silently ignores helpers it has not
// loaded. Apply never fails: problems become text in the output, as they
// did in the original.
func Apply(name string, req *vpoller.Request, resp *vpoller.Response) (out []byte, ok bool) {
	f, ok := formatters[name]
	if !ok {
		return nil, false
	}
	if req == nil {
		req = &vpoller.Request{}
	}
	if resp == nil {
		resp = vpoller.Fail("no reply")
	}
	return f(req, resp), true
}

// Formatters returns every helper by name, for the worker's
// Options.Formatters: cmd/vpoller-worker injects them, so the worker need
// not import this Zabbix package. Each behaves as Apply with its name.
func Formatters() map[string]func(*vpoller.Request, *vpoller.Response) []byte {
	out := make(map[string]func(*vpoller.Request, *vpoller.Response) []byte, len(formatters))
	for name := range formatters {
		out[name] = func(req *vpoller.Request, resp *vpoller.Response) []byte {
			b, _ := Apply(name, req, resp)
			return b
		}
	}
	return out
}

// Names returns the helper names Apply knows, sorted; the worker lists them
// in its management status.
func Names() []string {
	names := make([]string, 0, len(formatters))
	for n := range formatters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
