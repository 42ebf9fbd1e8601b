package vsphere

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Certificate expiry (ours):
//
//   - host.certificate.get reads an ESXi host's SSL certificate from its
//     config.certificate property (the PEM the host serves), through the
//     store: after the first read the property is in the watched mirror,
//     so a poll costs no vCenter call;
//   - vcenter.certificate.get is the certificate the agent's endpoint
//     (vCenter or ESXi) presents to the worker: the leaf of the TLS
//     connection state of one HTTPS request made with the session's own
//     transport (its TLS policy and pinning), kept for vcCertTTL.
//
// Both answer notBefore/notAfter as Unix seconds and daysLeft, the days
// from the answer to notAfter (negative once expired), so that triggers
// need no clock of their own.

const (
	pathCertificate = "config.certificate"
	// vcCertTTL is how long the endpoint's certificate as last seen
	// serves: certificates are replaced rarely, and a replacement shows
	// within the hour.
	vcCertTTL = time.Hour

	msgCertificate = "Successfully retrieved certificate"
)

// certObject is the reply fields of a certificate, daysLeft counted from now.
func certObject(name any, c *x509.Certificate, now time.Time) vpoller.Object {
	sum := sha256.Sum256(c.Raw)
	return vpoller.Object{
		{Key: pathName, Value: name},
		{Key: "subject", Value: c.Subject.String()},
		{Key: "issuer", Value: c.Issuer.String()},
		{Key: "notBefore", Value: c.NotBefore.Unix()},
		{Key: "notAfter", Value: c.NotAfter.Unix()},
		{Key: "daysLeft", Value: daysLeft(c.NotAfter, now)},
		{Key: "sha256", Value: strings.ToUpper(hex.EncodeToString(sum[:]))},
	}
}

// daysLeft is the days from now to t, rounded down to a hundredth.
func daysLeft(t, now time.Time) float64 {
	return math.Floor(t.Sub(now).Hours()/24*100) / 100
}

// parseCertificate reads the first certificate of a PEM blob (or of DER
// bytes, which some hosts report).
func parseCertificate(b []byte) (*x509.Certificate, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseCertificate(b)
}

// hostCertificateGet (host.certificate.get): [{"name", "subject",
// "issuer", "notBefore", "notAfter", "daysLeft", "sha256"}] of a host's
// SSL certificate. A host that reports none (disconnected) gets a clear
// error.
func hostCertificateGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName, pathCertificate})
	if err != nil {
		return fail(req, err)
	}
	var raw []byte
	switch v := pv[pathCertificate].(type) {
	case types.ByteSlice:
		raw = v
	case types.ArrayOfByte: // the mirror's update of the property
		raw = v.Byte
	case *types.ArrayOfByte:
		raw = v.Byte
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	}
	if len(raw) == 0 {
		return vpoller.Fail(fmt.Sprintf("Host %s reports no certificate", req.Name))
	}
	c, err := parseCertificate(raw)
	if err != nil {
		return vpoller.Fail(fmt.Sprintf("Cannot read the certificate of host %s: %v", req.Name, err))
	}
	return vpoller.OK(msgCertificate, []any{certObject(toValue(pv[pathName]), c, time.Now())})
}

// vcCert is the endpoint's certificate as last seen.
type vcCert struct {
	cert *x509.Certificate
}

// vcenterCertificateGet (vcenter.certificate.get): the endpoint's TLS
// certificate as the worker sees it, [{"name": agent, "subject", ...}].
// Cost: one HTTPS request (no SOAP call) per vcCertTTL.
func vcenterCertificateGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	c, err := a.data.vcCert.Get(ctx)
	if err != nil {
		var ce *ConnectError
		if errors.As(err, &ce) {
			return fail(req, err)
		}
		return &vpoller.Response{Success: 1, Msg: "Cannot read the endpoint certificate: " + err.Error(), Cause: err}
	}
	return vpoller.OK(msgCertificate, []any{certObject(a.Name(), c.cert, time.Now())})
}

// loadVCCert asks the endpoint for its service versions document over the
// session's transport and keeps the leaf certificate of the connection.
func loadVCCert(ctx context.Context, a *Agent) (*vcCert, error) {
	vc, err := a.Client(ctx)
	if err != nil {
		return nil, err
	}
	u := *vc.URL()
	u.User, u.RawQuery = nil, ""
	u.Path = strings.TrimSuffix(u.Path, "/") + "/vimServiceVersions.xml"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := vc.Client.Client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("connect to the endpoint: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	_ = res.Body.Close()
	if res.TLS == nil || len(res.TLS.PeerCertificates) == 0 {
		return nil, errors.New("the endpoint presented no TLS certificate")
	}
	return &vcCert{cert: res.TLS.PeerCertificates[0]}, nil
}
