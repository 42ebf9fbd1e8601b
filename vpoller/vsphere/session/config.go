package session

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults applied by Config.WithDefaults to zero fields.
const (
	DefaultPort    = 443
	DefaultTimeout = 8 * time.Second
)

// Config describes one vSphere agent (a vCenter or ESXi host): where it
// is, how to log in and how to trust its certificate.
type Config struct {
	Name               string        // agent name clients put in "hostname"; exact, case-sensitive
	Host               string        // address to connect to (defaults to Name)
	Port               int           // default 443
	Username, Password string        // vSphere credentials; the password is never logged
	Timeout            time.Duration // per SOAP call; default 8s, below the 10 s the original CLI waits
	CAFile             string        // PEM CA bundle to verify vCenter's certificate
	Thumbprint         string        // pinned SHA-256 (or SHA-1) thumbprint of the server certificate, hex with or without colons
	Insecure           bool          // skip TLS verification (only when explicitly configured)
	Simulator          bool          // serve this agent from an in-process govmomi simulator (embedded default/demo/tests)
	SimulatorModel     string        // optional: "vpx" (default) or "esx"
	// LoginBackoff is how long logins are paused after vCenter refuses
	// the credentials, doubled after each further refusal up to
	// MaxLoginBackoff (see login.go); zero means DefaultLoginBackoff
	// (2m30s), with which at most 2 failed logins fall into any 5 minutes,
	// well clear of vCenter SSO's lockout (5 failures in 180 s).
	LoginBackoff time.Duration
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("name", c.Name), slog.String("host", c.Host), slog.Int("port", c.Port),
		slog.String("username", c.Username)}
	switch {
	case c.Simulator:
		attrs = append(attrs, slog.String("simulator", c.SimulatorModel))
	case c.Insecure:
		attrs = append(attrs, slog.Bool("insecure", true))
	case c.Thumbprint != "":
		attrs = append(attrs, slog.String("thumbprint", c.Thumbprint))
	case c.CAFile != "":
		attrs = append(attrs, slog.String("ca_file", c.CAFile))
	}
	return slog.GroupValue(attrs...)
}

// WithDefaults fills zero fields and checks the rest; it does no network
// work, so that a bad configuration is refused when the worker starts, not
// on the first request.
func (c Config) WithDefaults() (Config, error) {
	if c.Name == "" {
		return c, errors.New("agent name is empty")
	}
	if c.Host == "" {
		c.Host = c.Name
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("agent %s: port %d out of range", c.Name, c.Port)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return c, fmt.Errorf("agent %s: negative timeout", c.Name)
	}
	if c.LoginBackoff == 0 {
		c.LoginBackoff = DefaultLoginBackoff
	}
	if c.LoginBackoff < 0 {
		return c, fmt.Errorf("agent %s: negative login backoff", c.Name)
	}
	if c.Simulator {
		switch strings.ToLower(c.SimulatorModel) {
		case "", "vpx":
			c.SimulatorModel = "vpx"
		case "esx":
			c.SimulatorModel = "esx"
		default:
			return c, fmt.Errorf("agent %s: unknown simulator model %q (want vpx or esx)", c.Name, c.SimulatorModel)
		}
		if c.Username == "" {
			c.Username, c.Password = SimulatorUser, SimulatorPassword
		}
		return c, nil
	}
	if c.Username == "" {
		return c, fmt.Errorf("agent %s: username is empty", c.Name)
	}
	if c.Thumbprint != "" {
		tp, err := ParseThumbprint(c.Thumbprint)
		if err != nil {
			return c, fmt.Errorf("agent %s: %w", c.Name, err)
		}
		c.Thumbprint = tp
	}
	return c, nil
}

// ParseThumbprint normalises a certificate thumbprint to the form govmomi
// compares against: upper-case hex byte pairs joined by colons. It accepts
// SHA-256 (32 bytes) and SHA-1 (20 bytes) fingerprints written with or
// without colons, spaces or dashes, in either case, and the way tools
// print them, so that an administrator can paste what they show:
// openssl's "sha256 Fingerprint=AB:CD:..." (OpenSSL 3) and "SHA256
// Fingerprint=AB:CD:..." (1.1), "SHA1 Fingerprint=...", and the
// "sha256:"/"sha1:" prefixes of other tools. A named algorithm must match
// the length.
func ParseThumbprint(s string) (string, error) {
	algo, hexPart := splitThumbprintAlgo(strings.TrimSpace(s))
	t := strings.NewReplacer(":", "", " ", "", "-", "", "\t", "").Replace(hexPart)
	b, err := hex.DecodeString(t)
	if err != nil {
		return "", fmt.Errorf("thumbprint %q is not hexadecimal (paste the SHA-256 fingerprint, e.g. the output of "+
			"openssl x509 -noout -fingerprint -sha256: \"sha256 Fingerprint=AB:CD:...\")", clip(s))
	}
	switch {
	case len(b) != 32 && len(b) != 20:
		return "", fmt.Errorf("thumbprint %q has %d bytes; want 32 (SHA-256) or 20 (SHA-1)", clip(s), len(b))
	case algo == "SHA-256" && len(b) != 32, algo == "SHA-1" && len(b) != 20:
		return "", fmt.Errorf("thumbprint %q is named %s but has %d bytes", clip(s), algo, len(b))
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":"), nil
}

// splitThumbprintAlgo strips a leading algorithm name as tools print it
// ("sha256 Fingerprint=", "SHA1 Fingerprint=", "sha256:", "SHA-256:")
// and returns the algorithm it named ("SHA-256", "SHA-1" or "") and the
// rest. Without a name the text is returned unchanged.
func splitThumbprintAlgo(s string) (algo, rest string) {
	low := strings.ToLower(s)
	for _, a := range []struct{ prefix, algo string }{
		{"sha-256", "SHA-256"}, {"sha256", "SHA-256"}, {"sha-1", "SHA-1"}, {"sha1", "SHA-1"},
	} {
		if !strings.HasPrefix(low, a.prefix) {
			continue
		}
		r := strings.TrimLeft(s[len(a.prefix):], " \t")
		if len(r) >= len("fingerprint") && strings.EqualFold(r[:len("fingerprint")], "fingerprint") {
			r = strings.TrimLeft(r[len("fingerprint"):], " \t")
		}
		if r != "" && (r[0] == '=' || r[0] == ':') {
			return a.algo, strings.TrimSpace(r[1:])
		}
		return "", s // not a name after all: reported as not hexadecimal
	}
	return "", s
}

// clip shortens a configured value for an error message.
func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
