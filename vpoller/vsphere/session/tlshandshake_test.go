package session

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
)

// handshakeCounter counts, on the simulator's side, the TLS handshakes
// clients start (ClientHellos) and the ones that complete.
type handshakeCounter struct {
	started, completed atomic.Int64
}

func (h *handshakeCounter) hook(m *simulator.Model) {
	m.Service.TLS.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		h.started.Add(1)
		return nil, nil // keep the server's configuration
	}
	// The server requests (not requires) a client certificate, so this
	// runs once per handshake the client finished.
	m.Service.TLS.VerifyConnection = func(tls.ConnectionState) error {
		h.completed.Add(1)
		return nil
	}
}

// TestPinnedTLSOneHandshake proves that a pinned agent costs vCenter one
// TLS handshake per connection (govmomi's pinning costs two: a verified
// attempt the client aborts, then an unverified one it checks), including
// for a second connection opened by concurrent requests.
func TestPinnedTLSOneHandshake(t *testing.T) {
	var hs handshakeCounter
	sim, err := StartSimulator("vpx", "user", "pass", slog.New(slog.DiscardHandler), hs.hook)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	host, portText, _ := strings.Cut(sim.Host, ":")
	port, _ := strconv.Atoi(portText)
	cfg, err := Config{Name: "vc", Host: host, Port: port, Username: "user", Password: "pass",
		Timeout: 5 * time.Second, Thumbprint: sim.Thumbprint}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, Options{})
	defer s.Close()
	// Force new connections: drop the idle ones and call again.
	for range 4 {
		vc, err := s.Client(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		vc.CloseIdleConnections()
		if _, err := methods.GetCurrentTime(context.Background(), vc); err != nil {
			t.Fatal(err)
		}
	}
	started, completed := hs.started.Load(), hs.completed.Load()
	t.Logf("TLS handshakes with our pinning: %d started, %d completed", started, completed)

	// For the record: govmomi's own pinning on the same server.
	hs.started.Store(0)
	hs.completed.Store(0)
	u := &url.URL{Scheme: "https", Host: sim.Host, Path: vim25.Path}
	sc := soap.NewClient(u, false)
	sc.SetThumbprint(sim.Host, sim.Thumbprint)
	if _, err := vim25.NewClient(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	sc.CloseIdleConnections()
	t.Logf("TLS handshakes with govmomi's pinning: %d started, %d completed", hs.started.Load(), hs.completed.Load())

	if completed < 4 {
		t.Errorf("%d completed handshakes, want at least 4 (one per connection)", completed)
	}
	if started != completed {
		t.Errorf("%d handshakes started for %d connections, want exactly one per connection", started, completed)
	}
}

// TestTLSHostnameMismatch connects with a CA file to an address the
// certificate does not name (httptest's certificate names 127.0.0.1 and
// example.com, not ::1 or localhost) and checks that the error says so.
func TestTLSHostnameMismatch(t *testing.T) {
	sim, err := StartSimulator("vpx", "user", "pass", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	caFile, err := sim.Server().CertificateFile()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(sim.Host)
	setup, err := newAgentTLS(caFile, "", false)
	if err != nil {
		t.Fatal(err)
	}
	// "localhost" resolves to 127.0.0.1 but is not in the certificate.
	_, err = setup.dial(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	if err == nil {
		t.Fatal("connection by an unnamed host name accepted")
	}
	for _, want := range []string{`the certificate is not issued for "localhost"`, "example.com", "127.0.0.1",
		"or pin the certificate in the vCenter's file in vsphere.d: thumbprint = " + soap.ThumbprintSHA256(sim.Server().Certificate())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The certificate's own name works with the same CA file.
	c, err := setup.dial(context.Background(), "tcp", sim.Host)
	if err != nil {
		t.Fatalf("by 127.0.0.1: %v", err)
	}
	_ = c.Close()
}

// TestPinRefusesOtherCertificate checks the pin against a certificate it
// does not name, on one handshake, with both thumbprints in the error.
func TestPinRefusesOtherCertificate(t *testing.T) {
	sim, err := StartSimulator("vpx", "user", "pass", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	want := strings.Repeat("0A:", 31) + "0A"
	setup, err := newAgentTLS("", want, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = setup.dial(context.Background(), "tcp", sim.Host)
	if err == nil {
		t.Fatal("wrong certificate accepted")
	}
	got := soap.ThumbprintSHA256(sim.Server().Certificate())
	if !strings.Contains(err.Error(), "expected SHA-256 "+want+", server presented "+got) {
		t.Errorf("error %q does not name both thumbprints", err)
	}
}
