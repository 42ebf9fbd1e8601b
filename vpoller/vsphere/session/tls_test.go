package session

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	want256 := strings.TrimSuffix(strings.Repeat("0A:", 32), ":")
	for _, tc := range []struct{ in, want string }{
		{want, want},
		{strings.ToLower(want), want},
		{"abcdef0123456789abcdef0123456789abcdef01", want},
		{"sha1:" + want, want},
		{" AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01 ", want},
		// What openssl x509 -noout -fingerprint prints, pasted as is.
		{"SHA1 Fingerprint=" + want, want},
		{"sha1 Fingerprint=" + strings.ToLower(want), want},
		{"sha256 Fingerprint=" + want256, want256},
		{"SHA256 Fingerprint=" + want256, want256},
		{"SHA256 fingerprint = " + strings.ReplaceAll(want256, ":", ""), want256},
		{"SHA-256:" + want256, want256},
		{"sha256:" + strings.ToLower(want256), want256},
	} {
		got, err := ParseThumbprint(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseThumbprint(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, msg string }{
		{"", "has 0 bytes"},
		{"xyz", `thumbprint "xyz" is not hexadecimal (paste the SHA-256 fingerprint, e.g. the output of openssl x509 -noout -fingerprint -sha256: "sha256 Fingerprint=AB:CD:...")`},
		{"AB:CD", "has 2 bytes; want 32 (SHA-256) or 20 (SHA-1)"},
		{strings.Repeat("ab", 33), "has 33 bytes"},
		{"sha256 Fingerprint=" + want, "is named SHA-256 but has 20 bytes"},
		{"SHA1 Fingerprint=" + want256, "is named SHA-1 but has 32 bytes"},
		{"sha256 Fingerprint " + want256, "is not hexadecimal"},
		{"md5 Fingerprint=" + want, "is not hexadecimal"},
	} {
		_, err := ParseThumbprint(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseThumbprint(%q) = %v; want an error containing %q", tc.in, err, tc.msg)
		}
	}
}

func FuzzParseThumbprint(f *testing.F) {
	for _, s := range []string{"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
		"sha256:" + strings.Repeat("0a", 32), strings.Repeat("ff:", 32), ":", "sha1:",
		"sha256 Fingerprint=" + strings.Repeat("0A:", 31) + "0A", "SHA1 Fingerprint=", "sha-256 fingerprint :"} {
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

// testCert makes a certificate for names (DNS names or IP addresses)
// valid from notBefore to notAfter, signed by parent (self-signed when
// nil), and returns it with its key.
func testCert(t *testing.T, cn string, names []string, notBefore, notAfter time.Time, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// TestCertificateErrors: each verification failure an administrator
// meets names the fix, with the presented certificate's SHA-256
// fingerprint ready to paste as the thumbprint.
func TestCertificateErrors(t *testing.T) {
	now := time.Now()
	ca, caKey := testCert(t, "Test CA", nil, now.Add(-time.Hour), now.Add(time.Hour), true, nil, nil)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	selfSigned, selfKey := testCert(t, "vc01", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour), false, nil, nil)
	otherName, otherKey := testCert(t, "vc02", []string{"vc02.example.org"}, now.Add(-time.Hour), now.Add(time.Hour), false, ca, caKey)
	expired, expiredKey := testCert(t, "vc03", []string{"127.0.0.1"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour), false, ca, caKey)

	for _, tc := range []struct {
		name   string
		cert   *x509.Certificate
		key    *ecdsa.PrivateKey
		caFile string
		want   []string
	}{
		{"self-signed", selfSigned, selfKey, "", []string{
			"vCenter's certificate is self-signed, so no authority this worker trusts vouches for it (subject CN=vc01, issuer CN=vc01)",
			"To fix: pin the certificate in the vCenter's file in vsphere.d: thumbprint = " + soap.ThumbprintSHA256(selfSigned) + " (the SHA-256 fingerprint of the certificate presented",
			"openssl s_client -connect 127.0.0.1:PORT </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 run where no one can intercept)",
			"; or give the CA that signs it: ca_file = /path/to/ca.pem (vCenter's own CA: https://127.0.0.1/certs/download.zip); then restart vpoller-worker",
			"[tls: failed to verify certificate: x509: certificate signed by unknown authority]"}},
		{"other name", otherName, otherKey, caFile, []string{
			`the certificate is not issued for "127.0.0.1" (it names vc02.example.org). To fix: connect by one of those names (hostname in the vCenter's file); or pin the certificate`,
			"thumbprint = " + soap.ThumbprintSHA256(otherName) + " "}},
		{"expired", expired, expiredKey, caFile, []string{
			"the certificate CN=vc03 expired on " + expired.NotAfter.UTC().Format(time.DateOnly) + ". To fix: renew it on vCenter; or pin the certificate",
			"thumbprint = " + soap.ThumbprintSHA256(expired) + " ",
			"x509: certificate has expired or is not yet valid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{tc.cert.Raw}, PrivateKey: tc.key, Leaf: tc.cert}}}
			srv.StartTLS()
			defer srv.Close()
			addr := srv.Listener.Addr().String()
			_, port, _ := net.SplitHostPort(addr)
			at, err := newAgentTLS(tc.caFile, "", false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = at.dial(context.Background(), "tcp", addr)
			var ce *CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("dial: %v, want a *CertificateError", err)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "PORT", port); !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks\n%s", err, w)
				}
			}
			// What it says to paste works.
			tp, err := ParseThumbprint("sha256 Fingerprint=" + ce.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			pinned, err := newAgentTLS("", tp, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := pinned.config.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.cert}}); err != nil {
				t.Errorf("the suggested thumbprint does not verify: %v", err)
			}
		})
	}
}
