package helpers

import (
	"errors"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// zabbix is vpoller.helpers.zabbix: a failed reply's raw msg text, an item
// as Python JSON text ("poweredOn" with quotes), discovery as Python-style
// {"data": [...]}, and the original's "[zbx-helper]: Do not know how to
// process <method> method" for other methods. It follows the original's
// method table (lld.Method.Helper), not the plugin's wider one.
//
// Where the original crashed and the worker sent {"success": 1, "msg":
// "Cannot send result: str objects only"} (empty result, no property
// requested, wrong result shape) we send "[zbx-helper]: <reason>" instead;
// values the original could not encode (data objects, datetimes) are
// already plain JSON in our value model and go out as JSON text.
func zabbix(req *vpoller.Request, resp *vpoller.Response) []byte {
	if resp.Failed() {
		return []byte(resp.Msg)
	}
	m, _ := lld.Lookup(req.Method)
	switch m.Helper {
	case lld.KindLLD:
		out, err := lld.DiscoveryOf(m, resp, vpoller.Python)
		if err != nil {
			return failure(err)
		}
		return out
	case lld.KindItem:
		v, err := lld.ItemOf(m, req, resp)
		if errors.Is(err, lld.ErrMissingProperty) {
			// The original looked the property up with dict.get: null.
			v, err = nil, nil
		}
		if err != nil {
			return failure(err)
		}
		out, err := vpoller.Marshal(v, vpoller.Python)
		if err != nil {
			return failure(err)
		}
		return out
	}
	return []byte((&lld.UnsupportedError{Method: req.Method}).Error())
}

// failure is the text sent when no value can be produced.
func failure(err error) []byte {
	return []byte("[zbx-helper]: " + err.Error())
}

// czabbix is vpoller.helpers.czabbix: the zabbix helper's output plus the
// NUL terminator the C Zabbix module relies on.
func czabbix(req *vpoller.Request, resp *vpoller.Response) []byte {
	return append(zabbix(req, resp), 0)
}

// cclient is vpoller.helpers.cclient: the whole reply as ASCII-only JSON
// (json.dumps defaults) plus a NUL terminator for the C client.
func cclient(_ *vpoller.Request, resp *vpoller.Response) []byte {
	return append(resp.Encode(vpoller.PythonASCII), 0)
}
