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
	if err := os.WriteFile(secret, []byte("correct horse battery staple and more\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		s        ServerSettings
		wantName string
		wantDesc string
	}{
		{ServerSettings{}, "NULL", "NULL"},
		{ServerSettings{CurveSecretKey: sec, CurveAllow: "*"}, "CURVE", "any client key"},
		{ServerSettings{CurveSecretKey: sec, CurveAllow: " * "}, "CURVE", "any client key"},
		{ServerSettings{CurveSecretKey: sec, CurveAllow: pub}, "CURVE", "1 allowed"},
		{ServerSettings{CurveSecretKey: sec, AllowSelf: true}, "CURVE", "own key only"},
		{ServerSettings{CurveSecretKey: sec, CurveAllow: "*", AllowSelf: true}, "CURVE", "any client key"},
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
		if any := strings.Contains(c.wantDesc, "any"); AcceptsAnyKey(m) != any {
			t.Errorf("%+v: AcceptsAnyKey = %v", c.s, !any)
		}
	}
	// Without an allow-list, CURVE would admit any key: the configuration
	// must say "*".
	if _, _, err := ServerMechanism(ServerSettings{CurveSecretKey: sec}); err == nil || !strings.Contains(err.Error(), "give *") {
		t.Errorf("CURVE without an allow-list: %v", err)
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
	for _, tc := range []struct {
		secret string
		ok     bool
	}{
		{strings.Repeat("s", 31), false},
		{strings.Repeat("s", 32), true},
		{"  " + strings.Repeat("s", 32) + "  \nsecond line ignored", true},
		{strings.Repeat("s", 255), true},
		{strings.Repeat("s", 256), false},
		{"a long enough secret", false}, // 20 bytes: what the old 8-byte rule let through
	} {
		p := filepath.Join(dir, "len.secret")
		_ = os.Remove(p)
		if err := os.WriteFile(p, []byte(tc.secret), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadSecretFile(p)
		switch {
		case tc.ok && (err != nil || got != strings.TrimSpace(strings.Split(tc.secret, "\n")[0])):
			t.Errorf("%d bytes: %q, %v", len(tc.secret), got, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "keygen -secret")):
			t.Errorf("%d bytes accepted or unhelpful error: %v", len(tc.secret), err)
		}
	}
	// What keygen -secret writes is accepted.
	gen := filepath.Join(dir, "gen.secret")
	if err := curvekey.WriteSecretFile(gen); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadSecretFile(gen); err != nil || len(s) != 43 {
		t.Errorf("generated secret: %q, %v", s, err)
	}
}
