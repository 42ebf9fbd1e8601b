package proxy

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestRequestHostname(t *testing.T) {
	for _, tc := range []struct {
		payload, want string
	}{
		{`{"method": "vm.get", "hostname": "vc01.example.org", "name": "vm1"}`, "vc01.example.org"},
		{`{"hostname":"VC01","method":"about"}`, "VC01"},
		{`{"method": "vm.discover", "properties": ["name", {"x": [1, 2]}], "hostname": "vc"}`, "vc"},
		{`{"method": "about", "hostname": null}`, ""},
		{`{"method": "about", "hostname": "(null)"}`, ""},
		{`{"method": "about", "hostname": 42}`, ""},
		{`{"method": "about", "name": {"hostname": "inner"}}`, ""},
		{`{"method": "about"}`, ""},
		{`["hostname", "vc"]`, ""},
		{`not json`, ""},
		{``, ""},
		{`{"hostname": "vc\u00e9"}`, "vcé"},
		{`{"hostname": "vc"` + "\x00", "vc"}, // the C module's trailing NUL comes after the object
		{`{"method": "x", "pad": "` + strings.Repeat("a", maxHostnameScan) + `", "hostname": "late"}`, ""},
		{`{"hostname": "first", "hostname": "last"}`, "last"},
		{`{"hostname": "first", "hostname": null}`, ""},
	} {
		if got := requestHostname([]byte(tc.payload)); got != tc.want {
			t.Errorf("requestHostname(%.60q) = %q, want %q", tc.payload, got, tc.want)
		}
	}
	// What our own client encodes is read back.
	req := &vpoller.Request{Method: "vm.get", Hostname: "vc01", Name: "vm", Properties: []string{"name"}}
	if got := requestHostname(req.Encode()); got != "vc01" {
		t.Errorf("encoded request: %q", got)
	}
}

// FuzzRequestHostname: any bytes give a hostname or "", never a panic, and
// a hostname found is one the full decoder agrees with.
func FuzzRequestHostname(f *testing.F) {
	f.Add([]byte(`{"method": "vm.get", "hostname": "vc01", "name": "vm1"}`))
	f.Add([]byte(`{"hostname": null}`))
	f.Add([]byte(`{"a": [1, {"b": "c"}], "hostname": "x"}`))
	f.Add([]byte(`{"hostname"`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got := requestHostname(payload)
		if got == "" {
			return
		}
		if !utf8.ValidString(got) && !strings.ContainsRune(got, utf8.RuneError) {
			t.Fatalf("hostname %q is not text", got)
		}
		if len(payload) <= maxHostnameScan {
			if req, err := vpoller.DecodeRequest(payload); err == nil && req.Hostname != got {
				t.Fatalf("routed by %q, the worker would read %q", got, req.Hostname)
			}
		}
	})
}
