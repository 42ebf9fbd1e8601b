package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/soap"
)

// tlsMode is how an agent authenticates vCenter's certificate.
type tlsMode int

const (
	tlsSystemRoots tlsMode = iota // normal verification against the system's roots
	tlsCAFile                     // normal verification against a configured CA bundle
	tlsPinned                     // the leaf certificate must have the pinned thumbprint
	tlsInsecure                   // no verification (explicitly configured only)
)

// agentTLS is an agent's client TLS setup: the configuration and the
// dialer that uses it, so that every connection costs exactly one
// handshake. (govmomi's own pinning first tries normal verification, lets
// it fail, and dials again with verification off; that doubles the
// handshakes and leaves a "bad certificate" error in vCenter's log for
// every connection.)
type agentTLS struct {
	mode   tlsMode
	config *tls.Config
	dialer *tls.Dialer
}

// newAgentTLS builds the TLS setup for one agent. A pinned thumbprint
// takes precedence over a CA file: it names exactly one certificate.
func newAgentTLS(caFile, thumbprint string, insecure bool) (*agentTLS, error) {
	t := &agentTLS{config: &tls.Config{MinVersion: tls.VersionTLS12}}
	switch {
	case thumbprint != "":
		t.mode = tlsPinned
		// Chain and name verification are replaced, not dropped: the
		// pin check below is mandatory and runs on every handshake.
		t.config.InsecureSkipVerify = true
		t.config.VerifyConnection = verifyPin(thumbprint)
	case caFile != "":
		pool, err := loadCAs(caFile)
		if err != nil {
			return nil, err
		}
		t.mode = tlsCAFile
		t.config.RootCAs = pool
	case insecure:
		t.mode = tlsInsecure
		t.config.InsecureSkipVerify = true
	default:
		t.mode = tlsSystemRoots
	}
	t.dialer = &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, Config: t.config}
	return t, nil
}

// install makes the soap client's transport use this setup for every
// connection (its service clients share the transport).
func (t *agentTLS) install(sc *soap.Client) {
	tr := sc.DefaultTransport()
	tr.TLSClientConfig = t.config
	tr.DialTLSContext = t.dial
}

// dial opens one TLS connection with one handshake and explains the
// verification failures operators meet most.
func (t *agentTLS) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.dialer.DialContext(ctx, network, addr)
	if err == nil {
		return c, nil
	}
	var he x509.HostnameError
	if errors.As(err, &he) && he.Certificate != nil {
		return nil, fmt.Errorf("TLS connection to %s: the certificate is not issued for %q (it names %s); "+
			"connect by one of those names, or pin the certificate's thumbprint: %w",
			addr, he.Host, certNames(he.Certificate), err)
	}
	return nil, fmt.Errorf("TLS connection to %s: %w", addr, err)
}

// ThumbprintError is a server certificate that does not match the pinned
// thumbprint. Both thumbprints are in the message, so that an operator
// can tell a replaced certificate from a man in the middle.
type ThumbprintError struct {
	Algorithm string // "SHA-256" or "SHA-1", the pin's
	Want, Got string
}

func (e *ThumbprintError) Error() string {
	return fmt.Sprintf("server certificate thumbprint does not match the pinned one: expected %s %s, server presented %s",
		e.Algorithm, e.Want, e.Got)
}

// Lengths of thumbprints in ParseThumbprint's form.
const (
	sha256ThumbprintLen = 32*3 - 1
	sha1ThumbprintLen   = 20*3 - 1
)

// verifyPin checks the leaf certificate against want (ParseThumbprint's
// form); the pin's length selects SHA-256 or SHA-1.
func verifyPin(want string) func(tls.ConnectionState) error {
	algo, sum := "SHA-256", soap.ThumbprintSHA256
	if len(want) == sha1ThumbprintLen {
		algo, sum = "SHA-1", soap.ThumbprintSHA1
	}
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server presented no certificate to check against the pinned thumbprint")
		}
		if got := sum(cs.PeerCertificates[0]); got != want {
			return &ThumbprintError{Algorithm: algo, Want: want, Got: got}
		}
		return nil
	}
}

// loadCAs reads a PEM bundle (or several, separated like PATH).
func loadCAs(paths string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range filepath.SplitList(paths) {
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("load CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("load CA file %s: no PEM certificate in it", p)
		}
	}
	return pool, nil
}

// certNames lists what a certificate is valid for.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName != "" {
			return "only the common name " + c.Subject.CommonName + ", which is not used for verification"
		}
		return "no names"
	}
	return strings.Join(names, ", ")
}
