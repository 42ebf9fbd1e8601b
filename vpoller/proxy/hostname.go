package proxy

import (
	"bytes"
	"encoding/json"
)

// maxHostnameScan bounds how much of a request the proxy reads to find its
// vCenter: requests are a few hundred bytes; a huge one is still routed,
// by the part that was read.
const maxHostnameScan = 64 << 10

// requestHostname returns the top-level "hostname" of a vPoller request
// (the vCenter it is for), "" when the payload is not a JSON object, has no
// such key within its first maxHostnameScan bytes, or holds no string
// there ("(null)" from the C module counts as none). A key given twice
// counts by its last value, as the worker's decoder (and Python's) reads
// it. The payload itself is forwarded untouched; this only routes it.
func requestHostname(payload []byte) string {
	if len(payload) > maxHostnameScan {
		payload = payload[:maxHostnameScan]
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	host := ""
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return host
		}
		key, ok := t.(string)
		if !ok {
			return host
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return host
		}
		if key != "hostname" {
			continue
		}
		host = ""
		var s string
		if json.Unmarshal(v, &s) == nil && s != "(null)" {
			host = s
		}
	}
	return host
}
