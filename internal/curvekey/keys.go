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
	"encoding/hex"
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
		if _, err := hex.Decode(k[:], []byte(s)); err != nil {
			return k, fmt.Errorf("curve key: 64 characters but not hexadecimal: %w", err)
		}
	default:
		return k, fmt.Errorf("curve key: %d characters; want 40 (Z85) or 64 (hex)", len(s))
	}
	return k, nil
}

// lowOrderProbe is a fixed clamped scalar: multiplied by a point of small
// order it gives the all-zero result that curve25519.X25519 refuses, and
// by any other point a non-zero one.
var lowOrderProbe = [32]byte{0: 0x08, 31: 0x40}

// ErrWeakKey marks a public key no peer can have made from a secret key:
// all zeros or another point of small order. A Diffie-Hellman with such a
// key gives a shared secret that does not depend on the other side's
// secret key, so whoever sends one (or gets one configured as the
// server's key) can read the session without holding any secret. libsodium
// refuses them; Go's nacl/box does not, so every key is checked here.
var ErrWeakKey = errors.New("curve key: not a usable public key")

// CheckPublic refuses the all-zero key and the other low-order points
// (and their non-canonical encodings), as libsodium's crypto_box does.
func CheckPublic(k Key) error {
	if k == (Key{}) {
		return fmt.Errorf("%w: all zeros", ErrWeakKey)
	}
	if _, err := curve25519.X25519(lowOrderProbe[:], k[:]); err != nil {
		return fmt.Errorf("%w: %s is a point of small order", ErrWeakKey, k)
	}
	return nil
}

// ParsePublic reads a public key as ParseKey does and refuses the keys
// CheckPublic refuses.
func ParsePublic(s string) (Key, error) {
	k, err := ParseKey(s)
	if err != nil {
		return k, err
	}
	if err := CheckPublic(k); err != nil {
		return Key{}, err
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
	k, err := ParsePublic(pub)
	if err != nil {
		return c, fmt.Errorf("certificate public-key: %w", err)
	}
	c.Public = k
	if sec != "" {
		s, err := ParseKey(sec)
		if err != nil {
			return c, fmt.Errorf("certificate secret-key: %w", err)
		}
		if s == (Key{}) {
			return c, errors.New("certificate secret-key: all zeros, not a generated key")
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

// checkMode refuses a key file or allow-list directory that group or
// others can write (whoever can write it chooses which keys are trusted),
// and, for a secret key, one they can read at all (like an SSH private
// key: a secret key others can read authenticates anyone). The message
// says which chmod fixes it, as the per-vCenter files' checks do.
func checkMode(path, what string, st fs.FileInfo, secret bool) error {
	perm := st.Mode().Perm()
	switch {
	case secret && perm&0o077 != 0:
		return fmt.Errorf("%s %s: mode %04o lets group or others read or write it; run chmod 600 %s", what, path, perm, path)
	case perm&0o022 != 0:
		return fmt.Errorf("%s %s: mode %04o lets group or others write it, and so choose the keys trusted; run chmod go-w %s",
			what, path, perm, path)
	}
	return nil
}

// LoadKeyPair reads a secret certificate file. The file must not be
// readable or writable by group or others (see checkMode).
func LoadKeyPair(path string) (KeyPair, error) {
	st, err := os.Stat(path)
	if err != nil {
		return KeyPair{}, fmt.Errorf("curve secret key: %w", err)
	}
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
	if err := checkMode(path, "curve secret key", st, true); err != nil {
		return KeyPair{}, err
	}
	return KeyPair{Public: c.Public, Secret: *c.Secret}, nil
}

// LoadPublic reads a public key given inline (40 Z85 characters or 64 hex
// digits) or as the path of a certificate file (public or secret), which
// group and others must not be able to write. A path wins over a string
// that also reads as a key.
func LoadPublic(spec string) (Key, error) {
	spec = strings.TrimSpace(spec)
	st, err := os.Stat(spec)
	if err != nil {
		if k, kerr := ParseKey(spec); kerr == nil {
			if err := CheckPublic(k); err != nil {
				return Key{}, fmt.Errorf("curve public key %s: %w", k, err)
			}
			return k, nil
		}
		return Key{}, fmt.Errorf("curve public key %q: neither a key (40 Z85 characters or 64 hex digits) nor a readable certificate: %w", spec, err)
	}
	if st.IsDir() {
		return Key{}, fmt.Errorf("curve public key %s: a directory, not a certificate file", spec)
	}
	return loadCertFile(spec, st)
}

// loadCertFile reads the public key of a certificate file after checking
// its mode.
func loadCertFile(path string, st fs.FileInfo) (Key, error) {
	if err := checkMode(path, "curve public key", st, false); err != nil {
		return Key{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("curve public key: %w", err)
	}
	c, err := ParseCert(data)
	if err != nil {
		return Key{}, fmt.Errorf("curve public key %s: %w", path, err)
	}
	return c.Public, nil
}

// AllowList maps the public keys that may connect to a name for logs
// (the certificate's file name, or the key itself when given inline).
type AllowList map[Key]string

// AnyKey is the allow-list value that admits every client key: CURVE then
// encrypts but does not authenticate clients, so a configuration must say
// so explicitly.
const AnyKey = "*"

// LoadAllowList reads a comma-separated list whose items are inline keys,
// certificate files, or directories whose *.key files are public
// certificates (a czmq/pyzmq certificate store). Directories and files
// that group or others can write are refused, as are weak keys
// (CheckPublic). An empty list is an error: CURVE without an allow-list
// would let every key in (that is AnyKey, which callers handle).
func LoadAllowList(spec string) (AllowList, error) {
	out := AllowList{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if item == AnyKey {
			return nil, fmt.Errorf("curve allow-list %q: %s (any client key) cannot be combined with keys", spec, AnyKey)
		}
		st, err := os.Stat(item)
		if err != nil {
			k, kerr := ParseKey(item)
			if kerr != nil {
				return nil, fmt.Errorf("curve allow-list item %q: neither a key nor a file: %w", item, err)
			}
			if err := CheckPublic(k); err != nil {
				return nil, fmt.Errorf("curve allow-list item %q: %w", item, err)
			}
			out[k] = k.String()
			continue
		}
		if !st.IsDir() {
			k, err := loadCertFile(item, st)
			if err != nil {
				return nil, err
			}
			out[k] = filepath.Base(item)
			continue
		}
		if err := checkMode(item, "curve allow-list directory", st, false); err != nil {
			return nil, err
		}
		files, err := filepath.Glob(filepath.Join(item, "*.key"))
		if err != nil {
			return nil, fmt.Errorf("curve allow-list %s: %w", item, err)
		}
		sort.Strings(files)
		for _, f := range files {
			fst, err := os.Stat(f)
			if err != nil {
				return nil, fmt.Errorf("curve allow-list %s: %w", item, err)
			}
			if fst.IsDir() {
				return nil, fmt.Errorf("curve allow-list %s: %s is a directory, not a certificate file", item, f)
			}
			k, err := loadCertFile(f, fst)
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
