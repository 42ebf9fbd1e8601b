package session

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/soap"
)

// TestTLS runs a simulator with its self-signed certificate and connects
// to it as a normal (non-simulator) agent with each TLS setting.
func TestTLS(t *testing.T) {
	sim, err := StartSimulator("vpx", "user", "pass", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	host, portText, _ := strings.Cut(sim.Host, ":")
	port, _ := strconv.Atoi(portText)
	caFile, err := sim.Server().CertificateFile()
	if err != nil {
		t.Fatal(err)
	}
	cert := sim.Server().Certificate()
	sha256 := soap.ThumbprintSHA256(cert)
	wrong := "00" + sha256[2:]
	noColons := strings.ToLower(strings.ReplaceAll(sha256, ":", ""))

	tests := []struct {
		name string
		cfg  Config
		want string // "" = success, else substring of the failure message
	}{
		{"default verifies and fails", Config{}, "x509: certificate signed by unknown authority"},
		{"pinned sha256", Config{Thumbprint: sha256}, ""},
		{"pinned sha256 lower case without colons", Config{Thumbprint: noColons}, ""},
		{"pinned sha1", Config{Thumbprint: soap.ThumbprintSHA1(cert)}, ""},
		{"wrong thumbprint", Config{Thumbprint: wrong}, "thumbprint does not match the pinned one: expected SHA-256 " + wrong + ", server presented " + sha256},
		{"wrong sha1 thumbprint", Config{Thumbprint: strings.Repeat("AB:", 19) + "AB"}, "expected SHA-1 " + strings.Repeat("AB:", 19) + "AB, server presented " + soap.ThumbprintSHA1(cert)},
		{"pin wins over CA file", Config{Thumbprint: wrong, CAFile: caFile}, "thumbprint does not match"},
		{"missing CA file", Config{CAFile: caFile + ".missing"}, "load CA file"},
		{"CA file", Config{CAFile: caFile}, ""},
		{"insecure", Config{Insecure: true}, ""},
		{"wrong password", Config{Insecure: true, Password: "nope"}, "login to vc as user refused by vCenter (InvalidLogin) at "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Name, cfg.Host, cfg.Port, cfg.Username, cfg.Timeout = "vc", host, port, "user", 5*time.Second
			if cfg.Password == "" {
				cfg.Password = "pass"
			}
			cfg, err := cfg.WithDefaults()
			if err != nil {
				t.Fatal(err)
			}
			s := New(cfg, Options{})
			defer s.Close()
			vc, err := s.Client(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want success, got %v", err)
			case tc.want == "" && vc.ServiceContent.About.ApiType != "VirtualCenter":
				t.Fatalf("connected to %+v", vc.ServiceContent.About)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want failure containing %q, got %v", tc.want, err)
			}
			if err != nil && strings.Contains(err.Error(), cfg.Password) {
				t.Errorf("password in error: %v", err)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{},
		{Name: "vc"}, // no username
		{Name: "vc", Username: "u", Port: 70000},
		{Name: "vc", Username: "u", Thumbprint: "zz"},
		{Name: "vc", Username: "u", Thumbprint: "AA:BB"},
		{Name: "vc", Simulator: true, SimulatorModel: "vsan"},
	}
	for _, c := range bad {
		if _, err := c.WithDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	// The password never appears in the config's log form.
	c := Config{Name: "vc", Username: "u", Password: "s3cret"}
	if strings.Contains(c.LogValue().String(), "s3cret") {
		t.Error("password in LogValue")
	}
}

func TestParseThumbprint(t *testing.T) {
	const want = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"
	for _, in := range []string{want, strings.ToLower(want), "abcdef0123456789abcdef0123456789abcdef01",
		"sha1:" + want, " AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01 "} {
		got, err := ParseThumbprint(in)
		if err != nil || got != want {
			t.Errorf("ParseThumbprint(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xyz", "AB:CD", strings.Repeat("ab", 33)} {
		if _, err := ParseThumbprint(in); err == nil {
			t.Errorf("ParseThumbprint(%q) accepted", in)
		}
	}
}

func FuzzParseThumbprint(f *testing.F) {
	for _, s := range []string{"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
		"sha256:" + strings.Repeat("0a", 32), strings.Repeat("ff:", 32), ":", "sha1:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseThumbprint(s)
		if err != nil {
			return
		}
		if len(got) != 20*3-1 && len(got) != 32*3-1 {
			t.Fatalf("%q -> %q: wrong length", s, got)
		}
		again, err := ParseThumbprint(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}
