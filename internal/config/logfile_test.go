package config

import (
	"strings"
	"testing"
)

// log_file is a key of both daemons' sections (and of the legacy
// [Default], for the daemon the section belongs to), inline comments
// allowed.
func TestLogFileKey(t *testing.T) {
	c, err := Parse([]byte("[proxy]\nlog_file = /var/log/vpoller/proxy.log\n[worker]\nlog_file = worker.log ; relative to this file\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Proxy.LogFile != "/var/log/vpoller/proxy.log" || c.Worker.LogFile != "worker.log" {
		t.Fatalf("proxy %q worker %q", c.Proxy.LogFile, c.Worker.LogFile)
	}
	if d := Default(); d.Proxy.LogFile != "" || d.Worker.LogFile != "" {
		t.Fatalf("default log files %q %q: stderr is the default", d.Proxy.LogFile, d.Worker.LogFile)
	}
	if _, err := Parse([]byte("[worker]\nlog_fille = x\n")); err == nil || !strings.Contains(err.Error(), "did you mean log_file?") {
		t.Fatalf("typo: %v", err)
	}
}
