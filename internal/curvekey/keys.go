// Package curvekey holds CurveZMQ keys: Z85 text (ZeroMQ RFC 32), key pair
// generation, certificate files in the format libzmq's tools, czmq's zcert
// and pyzmq's zmq.auth write and read, and allow-lists of public keys.
//
// A deployment generates one key pair per daemon or client with
// `vpoller-proxy keygen NAME` (or any other vPoller binary), keeps the
// secret file NAME.key_secret (mode 0600) where that program runs and
// hands the public file NAME.key to its peers: clients and workers need
// the proxy's public key, the proxy allows the public keys of its clients
// and workers. pyzmq's zmq.auth.load_certificate reads these files and
// zmq.auth.create_certificates writes files that load here.
package curvekey

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"
)

// Key is a Curve25519 key, public or secret.
type Key [32]byte

// String is the key as Z85 text, the form configuration files use.
func (k Key) String() string {
	s, _ := EncodeZ85(k[:])
	return s
}

// ParseKey reads a key written as 40 characters of Z85 or 64 hex digits.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var k Key
	switch len(s) {
	case 40:
		b, err := DecodeZ85(s)
		if err != nil {
			return k, fmt.Errorf("curve key: %w", err)
		}
		copy(k[:], b)
	case 64:
		if _, err := fmt.Sscanf(s, "%x", &k); err != nil {
			return k, fmt.Errorf("curve key %q: not hexadecimal", s)
		}
	default:
		return k, fmt.Errorf("curve key: %d characters; want 40 (Z85) or 64 (hex)", len(s))
	}
	return k, nil
}

// KeyPair is a long-term key pair.
type KeyPair struct {
	Public, Secret Key
}

// Generate makes a fresh key pair from the system's random source.
func Generate() (KeyPair, error) {
	var kp KeyPair
	if _, err := rand.Read(kp.Secret[:]); err != nil {
		return kp, fmt.Errorf("curve key: random source: %w", err)
	}
	pub, err := curve25519.X25519(kp.Secret[:], curve25519.Basepoint)
	if err != nil {
		return kp, fmt.Errorf("curve key: derive public key: %w", err)
	}
	copy(kp.Public[:], pub)
	return kp, nil
}

// FromSecret completes a key pair from its secret key.
func FromSecret(secret Key) (KeyPair, error) {
	pub, err := curve25519.X25519(secret[:], curve25519.Basepoint)
	if err != nil {
		return KeyPair{}, fmt.Errorf("curve key: derive public key: %w", err)
	}
	kp := KeyPair{Secret: secret}
	copy(kp.Public[:], pub)
	return kp, nil
}

// Cert is what a certificate file holds.
type Cert struct {
	Public Key
	Secret *Key // nil in a public certificate
}

// ParseCert reads a certificate in ZPL (ZeroMQ RFC 4) as zcert and pyzmq
// write it: a "curve" section with public-key and, in secret files,
// secret-key, each a quoted Z85 string. Other sections (metadata) and
// comments are ignored. When both keys are present they must match.
func ParseCert(data []byte) (Cert, error) {
	var c Cert
	var pub, sec string
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line == trimmed {
			// A top-level name: a section.
			section = trimmed
			continue
		}
		name, value, ok := strings.Cut(trimmed, "=")
		if !ok {
			continue // a nested section name
		}
		name = strings.TrimSpace(name)
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		if section != "curve" {
			continue
		}
		switch name {
		case "public-key":
			pub = value
		case "secret-key":
			sec = value
		}
	}
	if pub == "" {
		return c, errors.New("certificate: no curve public-key")
	}
	k, err := ParseKey(pub)
	if err != nil {
		return c, fmt.Errorf("certificate public-key: %w", err)
	}
	c.Public = k
	if sec != "" {
		s, err := ParseKey(sec)
		if err != nil {
			return c, fmt.Errorf("certificate secret-key: %w", err)
		}
		kp, err := FromSecret(s)
		if err != nil {
			return c, err
		}
		if kp.Public != c.Public {
			return c, errors.New("certificate: secret-key does not belong to public-key")
		}
		c.Secret = &s
	}
	return c, nil
}

// certText renders a certificate file; secret adds the secret key.
func certText(kp KeyPair, secret bool, now time.Time) []byte {
	var b bytes.Buffer
	kind := "Public"
	if secret {
		kind = "**Secret**"
	}
	fmt.Fprintf(&b, "#   ****  Generated on %s by vpoller  ****\n", now.UTC().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(&b, "#   ZeroMQ CURVE %s Certificate\n", kind)
	if secret {
		b.WriteString("#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n")
	} else {
		b.WriteString("#   Give this file to the peers that must know this key.\n")
	}
	b.WriteString("\nmetadata\ncurve\n")
	fmt.Fprintf(&b, "    public-key = %q\n", kp.Public.String())
	if secret {
		fmt.Fprintf(&b, "    secret-key = %q\n", kp.Secret.String())
	}
	return b.Bytes()
}

// WriteCertFiles writes base+".key" (public, mode 0644) and
// base+".key_secret" (public and secret, mode 0600), the names zcert and
// pyzmq use. Existing files are not overwritten.
func WriteCertFiles(base string, kp KeyPair) (public, secret string, err error) {
	now := time.Now()
	public, secret = base+".key", base+".key_secret"
	if err := writeNew(secret, certText(kp, true, now), 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(public, certText(kp, false, now), 0o644); err != nil {
		_ = os.Remove(secret)
		return "", "", err
	}
	return public, secret, nil
}

func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write certificate %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write certificate %s: %w", path, err)
	}
	return nil
}

// LoadKeyPair reads a secret certificate file. The file must not be
// readable or writable by group or others (like an SSH private key): a
// secret key others can read authenticates anyone.
func LoadKeyPair(path string) (KeyPair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return KeyPair{}, fmt.Errorf("curve secret key: %w", err)
	}
	c, err := ParseCert(data)
	if err != nil {
		return KeyPair{}, fmt.Errorf("curve secret key %s: %w", path, err)
	}
	if c.Secret == nil {
		return KeyPair{}, fmt.Errorf("curve secret key %s: a public certificate (no secret-key); use the .key_secret file", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return KeyPair{}, fmt.Errorf("curve secret key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return KeyPair{}, fmt.Errorf("curve secret key %s: mode %04o lets group or others read or write it; chmod 600 it", path, st.Mode().Perm())
	}
	return KeyPair{Public: c.Public, Secret: *c.Secret}, nil
}

// isFile reports whether path names an existing file or directory: a
// path wins over a 40-character string that also reads as Z85.
func isFile(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// LoadPublic reads a public key given inline (40 Z85 characters or 64 hex
// digits) or as the path of a certificate file (public or secret).
func LoadPublic(spec string) (Key, error) {
	spec = strings.TrimSpace(spec)
	if !isFile(spec) {
		if k, err := ParseKey(spec); err == nil {
			return k, nil
		}
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		return Key{}, fmt.Errorf("curve public key %q: neither a key (40 Z85 characters) nor a readable certificate: %w", spec, err)
	}
	c, err := ParseCert(data)
	if err != nil {
		return Key{}, fmt.Errorf("curve public key %s: %w", spec, err)
	}
	return c.Public, nil
}

// AllowList maps the public keys that may connect to a name for logs
// (the certificate's file name, or the key itself when given inline).
type AllowList map[Key]string

// LoadAllowList reads a comma-separated list whose items are inline keys,
// certificate files, or directories whose *.key files are public
// certificates (a czmq/pyzmq certificate store). An empty list is an
// error: CURVE without an allow-list would let every key in.
func LoadAllowList(spec string) (AllowList, error) {
	out := AllowList{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		st, err := os.Stat(item)
		if err != nil {
			if k, kerr := ParseKey(item); kerr == nil {
				out[k] = k.String()
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("curve allow-list item %q: neither a key nor a file: %w", item, err)
		}
		if !st.IsDir() {
			k, err := LoadPublic(item)
			if err != nil {
				return nil, err
			}
			out[k] = filepath.Base(item)
			continue
		}
		files, err := filepath.Glob(filepath.Join(item, "*.key"))
		if err != nil {
			return nil, fmt.Errorf("curve allow-list %s: %w", item, err)
		}
		sort.Strings(files)
		for _, f := range files {
			k, err := LoadPublic(f)
			if err != nil {
				return nil, err
			}
			out[k] = filepath.Base(f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("curve allow-list %q holds no public key", spec)
	}
	return out, nil
}
