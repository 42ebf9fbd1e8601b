package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
)

// vpoller.status reads a daemon's management status, with the shared
// secret configured for that socket, and checks that the daemon is the
// one the item names.
func TestExportStatus(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "mgmt.secret")
	if err := os.WriteFile(secret, []byte("status-secret-1234-long-enough-for-plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := mgmt.Listen(context.Background(), "tcp://127.0.0.1:0", mgmt.Options{
		StatusMsg: "vPoller Proxy status",
		Status: func() vpoller.Object {
			return vpoller.Object{{Key: "status", Value: "running"}, {Key: "workers", Value: 2}, {Key: "held", Value: 0}}
		},
		Security: zmtp.PlainServer(zmtp.SecretUser, "status-secret-1234-long-enough-for-plain"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p := newPlugin(t, "tcp://127.0.0.1:1", "Mgmt.Proxy.Endpoint", srv.Endpoint(), "Mgmt.Proxy.SecretFile", secret)

	got, err := export(p, "vpoller.status", 3*time.Second, "proxy", "Proxy")
	if err != nil || got != `{"status":"running","workers":2,"held":0}` {
		t.Fatalf("status: %q %v", got, err)
	}
	if _, err := export(p, "vpoller.status", 3*time.Second, "worker", "proxy"); err == nil || !strings.Contains(err.Error(), "is not a vPoller worker") {
		t.Fatalf("wrong daemon: %v", err)
	}
	// Without the secret (a bare URI) the socket refuses the handshake.
	if _, err := export(p, "vpoller.status", 2*time.Second, "proxy", srv.Endpoint()); err == nil {
		t.Fatal("status without the secret answered")
	}
	for _, bad := range [][]string{{"proxy"}, {"daemon", "proxy"}, {"proxy", "nosuch"}} {
		if _, err := export(p, "vpoller.status", time.Second, bad...); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
