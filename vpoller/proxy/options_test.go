package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
)

// TestOptionsDefaults checks what a zero field becomes: the [proxy]
// default of vpoller.conf for the file's settings, the Default constants
// for the rest; a field that is set is kept.
func TestOptionsDefaults(t *testing.T) {
	def := config.Default().Proxy
	o, err := Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0",
		MaxRequestBytes: 1 << 20, MaxClients: 7, WriteTimeout: 3 * time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"MaxRequestBytes", o.MaxRequestBytes, 1 << 20},
		{"MaxClients", o.MaxClients, 7},
		{"WriteTimeout", o.WriteTimeout, 3 * time.Second},
		{"MaxReplyBytes", o.MaxReplyBytes, def.MaxReplyBytes},
		{"MaxWorkers", o.MaxWorkers, def.MaxWorkers},
		{"MaxHeldRequests", o.MaxHeldRequests, def.MaxHeldRequests},
		{"MaxHeldBytes", o.MaxHeldBytes, def.MaxHeldBytes},
		{"MaxInflightPerWorker", o.MaxInflightPerWorker, def.MaxInflightPerWorker},
		{"MaxMemory", o.MaxMemory, def.MaxMemory},
		{"SpillWait", o.SpillWait, def.SpillWait},
		{"WorkerHeartbeat", o.WorkerHeartbeat, def.WorkerHeartbeat},
		{"WorkerTimeout", o.WorkerTimeout, def.WorkerTimeout},
		{"HoldTimeout", o.HoldTimeout, DefaultHoldTimeout},
		{"InflightTimeout", o.InflightTimeout, DefaultInflightTimeout},
		{"HandshakeTimeout", o.HandshakeTimeout, DefaultHandshake},
		{"Queue", o.Queue, DefaultQueue},
		{"ClientIdleTimeout", o.ClientIdleTimeout, time.Duration(0)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if o.Logger == nil {
		t.Error("Logger left nil")
	}
	for _, tc := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Frontend = "" }, "proxy frontend endpoint is empty"},
		{func(o *Options) { o.Mgmt = "" }, "proxy mgmt endpoint is empty"},
		{func(o *Options) { o.MaxRequestBytes = -1 }, "proxy max request bytes must be positive, got -1"},
	} {
		o := Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0", MaxRequestBytes: 1}
		tc.mod(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
