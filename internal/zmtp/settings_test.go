package zmtp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

func TestMechanismsFromSettings(t *testing.T) {
	dir := t.TempDir()
	kp, _ := curvekey.Generate()
	pub, sec, err := curvekey.WriteCertFiles(filepath.Join(dir, "proxy"), kp)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "mgmt.secret")
	if err := os.WriteFile(secret, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		s        ServerSettings
		wantName string
		wantDesc string
	}{
		{ServerSettings{}, "NULL", "NULL"},
		{ServerSettings{CurveSecretKey: sec}, "CURVE", "any client key"},
		{ServerSettings{CurveSecretKey: sec, CurveAllow: pub}, "CURVE", "1 allowed"},
		{ServerSettings{SecretFile: secret}, "PLAIN", "shared secret"},
	}
	for _, c := range cases {
		m, desc, err := ServerMechanism(c.s)
		if err != nil {
			t.Fatalf("%+v: %v", c.s, err)
		}
		if m.Name() != c.wantName || !strings.Contains(desc, c.wantDesc) {
			t.Errorf("%+v: %s %q", c.s, m.Name(), desc)
		}
	}
	for _, bad := range []ServerSettings{
		{CurveSecretKey: pub},                          // a public certificate
		{CurveSecretKey: sec, CurveAllow: "/nonexist"}, // allow-list missing
		{SecretFile: filepath.Join(dir, "none")},
	} {
		if _, _, err := ServerMechanism(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if m, err := ClientMechanism(pub, sec); err != nil || m.Name() != "CURVE" {
		t.Errorf("client CURVE: %v %v", m, err)
	}
	if m, err := ClientMechanism("", ""); err != nil || m.Name() != "NULL" {
		t.Errorf("client NULL: %v %v", m, err)
	}
	if _, err := ClientMechanism(pub, ""); err == nil {
		t.Error("half a CURVE client configuration accepted")
	}

	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(secret); err == nil {
		t.Error("world-readable secret file accepted")
	}
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte("abc"), 0o600)
	if _, err := ReadSecretFile(short); err == nil {
		t.Error("3-byte secret accepted")
	}
}
