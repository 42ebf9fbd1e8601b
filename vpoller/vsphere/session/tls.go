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
// verification failures operators meet most (see CertificateError).
func (t *agentTLS) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.dialer.DialContext(ctx, network, addr)
	if err == nil {
		return c, nil
	}
	if ce := certificateError(addr, err); ce != nil {
		return nil, ce
	}
	return nil, fmt.Errorf("TLS connection to %s: %w", addr, err)
}

// CertificateError is a vCenter certificate that failed verification:
// signed by an authority the worker does not trust (vCenter's own VMCA,
// a self-signed certificate), issued for other names, or expired. Its
// message names the fix, with the SHA-256 fingerprint of the certificate
// vCenter presented, ready to paste as the agent's thumbprint, and the
// openssl command that shows it independently.
type CertificateError struct {
	Addr string // host:port dialled
	// Problem is what is wrong with the certificate, in words; Fix the
	// fix particular to it ("" when pinning or a CA file is the fix).
	Problem, Fix string
	// SHA256 is the presented (leaf) certificate's fingerprint in
	// ParseThumbprint's form; empty if the error carried no certificate.
	SHA256 string
	Err    error // the x509 error
}

func (e *CertificateError) Error() string {
	host, port, err := net.SplitHostPort(e.Addr)
	if err != nil {
		host, port = e.Addr, "443"
	}
	openssl := fmt.Sprintf("openssl s_client -connect %s </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256",
		net.JoinHostPort(host, port))
	pin := "pin the certificate in the vCenter's file in vsphere.d: thumbprint = <its SHA-256 fingerprint, from: " + openssl + ">"
	if e.SHA256 != "" {
		pin = "pin the certificate in the vCenter's file in vsphere.d: thumbprint = " + e.SHA256 +
			" (the SHA-256 fingerprint of the certificate presented; compare it with what vCenter shows, or with: " +
			openssl + " run where no one can intercept)"
	}
	fixes := pin
	if e.Fix != "" {
		fixes = e.Fix + "; or " + pin
	} else {
		fixes += "; or give the CA that signs it: ca_file = /path/to/ca.pem (vCenter's own CA: https://" + host + "/certs/download.zip)"
	}
	return fmt.Sprintf("TLS connection to %s: %s. To fix: %s; then restart vpoller-worker [%v]", e.Addr, e.Problem, fixes, e.Err)
}

func (e *CertificateError) Unwrap() error { return e.Err }

// certificateError recognises the verification failures of a TLS dial
// to addr and returns them as a *CertificateError (nil for any other
// error). The presented certificate comes from the handshake's
// tls.CertificateVerificationError (the leaf: what a pin compares), or
// from the x509 error itself.
func certificateError(addr string, err error) *CertificateError {
	var leaf *x509.Certificate
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		leaf = cve.UnverifiedCertificates[0]
	}
	var (
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
	)
	ce := &CertificateError{Addr: addr, Err: err}
	switch {
	case errors.As(err, &uae):
		if leaf == nil {
			leaf = uae.Cert
		}
		ce.Problem = "vCenter's certificate is signed by an authority this worker does not trust"
		if leaf != nil && leaf.Issuer.String() == leaf.Subject.String() {
			ce.Problem = "vCenter's certificate is self-signed, so no authority this worker trusts vouches for it"
		}
		if leaf != nil {
			ce.Problem += fmt.Sprintf(" (subject %s, issuer %s)", leaf.Subject, leaf.Issuer)
		}
	case errors.As(err, &he):
		if leaf == nil {
			leaf = he.Certificate
		}
		names := "no names"
		if he.Certificate != nil {
			names = certNames(he.Certificate)
		}
		ce.Problem = fmt.Sprintf("the certificate is not issued for %q (it names %s)", he.Host, names)
		ce.Fix = "connect by one of those names (hostname in the vCenter's file)"
	case errors.As(err, &cie) && cie.Reason == x509.Expired:
		if leaf == nil {
			leaf = cie.Cert
		}
		switch c := cie.Cert; {
		case c != nil && time.Now().After(c.NotAfter):
			ce.Problem = fmt.Sprintf("the certificate %s expired on %s", c.Subject, c.NotAfter.UTC().Format(time.DateOnly))
			ce.Fix = "renew it on vCenter"
		case c != nil:
			ce.Problem = fmt.Sprintf("the certificate %s is not valid before %s", c.Subject, c.NotBefore.UTC().Format(time.RFC3339))
			ce.Fix = "check the clocks of this host and of vCenter"
		default:
			ce.Problem = "the certificate has expired or is not yet valid"
			ce.Fix = "renew it on vCenter, or check the clocks"
		}
	default:
		return nil
	}
	if leaf != nil {
		ce.SHA256 = soap.ThumbprintSHA256(leaf)
	}
	return ce
}

// ThumbprintError is a server certificate that does not match the pinned
// thumbprint. Both thumbprints are in the message, so that an operator
// can tell a replaced certificate from a man in the middle.
type ThumbprintError struct {
	Algorithm string // "SHA-256" or "SHA-1", the pin's
	Want, Got string
}

func (e *ThumbprintError) Error() string {
	return fmt.Sprintf("server certificate thumbprint does not match the pinned one: expected %s %s, server presented %s "+
		"(if vCenter's certificate was replaced on purpose, set thumbprint = %s; otherwise someone may be intercepting)",
		e.Algorithm, e.Want, e.Got, e.Got)
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
