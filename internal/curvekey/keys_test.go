package curvekey

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// Vectors printed by pyzmq's zmq.utils.z85 (libzmq's reference codec).
var z85Vectors = []struct{ hex, z85 string }{
	{"864fd26fb559f75b", "HelloWorld"},
	{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "009c61o!#m2NH?C3>iWS5d]J*6CRx17-skh9337x"},
	{"0000000000000000000000000000000000000000000000000000000000000000", "0000000000000000000000000000000000000000"},
	{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0"},
}

func TestZ85Vectors(t *testing.T) {
	for _, v := range z85Vectors {
		raw, _ := hex.DecodeString(v.hex)
		got, err := EncodeZ85(raw)
		if err != nil || got != v.z85 {
			t.Errorf("EncodeZ85(%s) = %q, %v; want %q", v.hex, got, err, v.z85)
		}
		back, err := DecodeZ85(v.z85)
		if err != nil || !bytes.Equal(back, raw) {
			t.Errorf("DecodeZ85(%q) = %x, %v; want %s", v.z85, back, err, v.hex)
		}
	}
}

func TestZ85Errors(t *testing.T) {
	for _, s := range []string{"abcd", "Hello World", "%nSc1"} {
		if _, err := DecodeZ85(s); err == nil {
			t.Errorf("DecodeZ85(%q): no error", s)
		}
	}
	if _, err := EncodeZ85([]byte{1, 2, 3}); err == nil {
		t.Error("EncodeZ85 of 3 bytes: no error")
	}
}

// A pair from pyzmq's zmq.curve_keypair(): the public key derives from the
// secret key as libsodium derives it.
func TestFromSecretMatchesLibsodium(t *testing.T) {
	sec, err := ParseKey("qEIv<fS*T/MpaBxFhCtf/fEID8tlG5S!T#Mw$[py")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := FromSecret(sec)
	if err != nil {
		t.Fatal(err)
	}
	if got := kp.Public.String(); got != "nR4e[z2z$tc=*@/XIX4xauHp0qPZfAc8&uXcuS@Z" {
		t.Fatalf("public = %q", got)
	}
}

// A secret certificate exactly as pyzmq's zmq.auth.create_certificates
// writes it.
const pyzmqSecretCert = `#   ****  Generated on 2026-11-30 13:40:06.614678 by pyzmq  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
curve
    public-key = "!OUpShilZ^d(UTTL]<HZI=%6n8b]{z-O!k}Pm?R2"
    secret-key = "uxv2X:5*SUW/AK@?LxK.ewl?5*h#qQO*2F^yPDee"
`

func TestParseCertPyzmq(t *testing.T) {
	c, err := ParseCert([]byte(pyzmqSecretCert))
	if err != nil {
		t.Fatal(err)
	}
	if c.Public.String() != "!OUpShilZ^d(UTTL]<HZI=%6n8b]{z-O!k}Pm?R2" || c.Secret == nil ||
		c.Secret.String() != "uxv2X:5*SUW/AK@?LxK.ewl?5*h#qQO*2F^yPDee" {
		t.Fatalf("cert = %v %v", c.Public, c.Secret)
	}
}

func TestParseCertErrors(t *testing.T) {
	cases := map[string]string{
		"empty":         "",
		"no curve":      "metadata\n    public-key = \"!OUpShilZ^d(UTTL]<HZI=%6n8b]{z-O!k}Pm?R2\"\n",
		"bad key":       "curve\n    public-key = \"short\"\n",
		"mismatch":      "curve\n    public-key = \"nR4e[z2z$tc=*@/XIX4xauHp0qPZfAc8&uXcuS@Z\"\n    secret-key = \"uxv2X:5*SUW/AK@?LxK.ewl?5*h#qQO*2F^yPDee\"\n",
		"bad secret":    "curve\n    public-key = \"nR4e[z2z$tc=*@/XIX4xauHp0qPZfAc8&uXcuS@Z\"\n    secret-key = \"x\"\n",
		"key elsewhere": "curve\nother\n    public-key = \"nR4e[z2z$tc=*@/XIX4xauHp0qPZfAc8&uXcuS@Z\"\n",
	}
	for name, text := range cases {
		if _, err := ParseCert([]byte(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWriteAndLoadCertFiles(t *testing.T) {
	dir := t.TempDir()
	kp, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	pub, sec, err := WriteCertFiles(filepath.Join(dir, "proxy"), kp)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(sec); st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %04o", st.Mode().Perm())
	}
	got, err := LoadKeyPair(sec)
	if err != nil || got != kp {
		t.Fatalf("LoadKeyPair = %v, %v", got, err)
	}
	if _, err := LoadKeyPair(pub); err == nil || !strings.Contains(err.Error(), "no secret-key") {
		t.Fatalf("LoadKeyPair(public file) = %v", err)
	}
	k, err := LoadPublic(pub)
	if err != nil || k != kp.Public {
		t.Fatalf("LoadPublic(file) = %v, %v", k, err)
	}
	if k, err := LoadPublic(kp.Public.String()); err != nil || k != kp.Public {
		t.Fatalf("LoadPublic(inline) = %v, %v", k, err)
	}
	if _, _, err := WriteCertFiles(filepath.Join(dir, "proxy"), kp); err == nil {
		t.Fatal("overwrote existing certificate files")
	}
	if err := os.Chmod(sec, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyPair(sec); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable secret accepted: %v", err)
	}
}

func TestAllowList(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "clients.d")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	var keys []KeyPair
	for _, n := range []string{"plugin", "worker1"} {
		kp, _ := Generate()
		keys = append(keys, kp)
		if _, _, err := WriteCertFiles(filepath.Join(store, n), kp); err != nil {
			t.Fatal(err)
		}
	}
	extra, _ := Generate()
	al, err := LoadAllowList(store + ", " + extra.Public.String())
	if err != nil {
		t.Fatal(err)
	}
	want := AllowList{keys[0].Public: "plugin.key", keys[1].Public: "worker1.key", extra.Public: extra.Public.String()}
	if len(al) != len(want) {
		t.Fatalf("allow-list %v, want %v", al, want)
	}
	for k, n := range want {
		if al[k] != n {
			t.Errorf("allow-list[%s] = %q, want %q", k, al[k], n)
		}
	}
	if _, err := LoadAllowList(""); err == nil {
		t.Error("empty allow-list accepted")
	}
	if _, err := LoadAllowList(filepath.Join(dir, "no-such-directory-of-client-keys")); err == nil {
		t.Error("missing allow-list path accepted")
	}
}

// pyzmq reads the certificate files we write, and we read the ones it
// writes (when Debian's python3-zmq is installed, as make test does).
func TestCertFilesWithPyzmq(t *testing.T) {
	py := testutil.Python(t, true)
	dir := t.TempDir()
	kp, _ := Generate()
	pub, sec, err := WriteCertFiles(filepath.Join(dir, "ours"), kp)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `
import sys, zmq.auth
p, _ = zmq.auth.load_certificate(sys.argv[1])
q, s = zmq.auth.load_certificate(sys.argv[2])
print(p.decode(), q.decode(), s.decode())
zmq.auth.create_certificates(sys.argv[3], "theirs")
`, pub, sec, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pyzmq: %v\n%s", err, out)
	}
	want := kp.Public.String() + " " + kp.Public.String() + " " + kp.Secret.String()
	if strings.TrimSpace(string(out)) != want {
		t.Fatalf("pyzmq read %q, want %q", out, want)
	}
	theirs := filepath.Join(dir, "theirs.key_secret")
	if err := os.Chmod(theirs, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyPair(theirs); err != nil {
		t.Fatalf("pyzmq's secret certificate: %v", err)
	}
	if _, err := LoadPublic(filepath.Join(dir, "theirs.key")); err != nil {
		t.Fatalf("pyzmq's public certificate: %v", err)
	}
}

func FuzzParseCert(f *testing.F) {
	f.Add([]byte(pyzmqSecretCert))
	f.Add([]byte("curve\n    public-key = \"nR4e[z2z$tc=*@/XIX4xauHp0qPZfAc8&uXcuS@Z\"\n"))
	f.Add([]byte("curve\n\tpublic-key='x'\r\n"))
	f.Add([]byte("curve\n    public-key = \"0000000000000000000000000000000000000000\"\n"))
	f.Add([]byte("curve\n    public-key = \"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCert(data)
		if err != nil {
			return
		}
		if err := CheckPublic(c.Public); err != nil {
			t.Fatalf("accepted a weak public key: %v", err)
		}
		if c.Secret != nil {
			kp, err := FromSecret(*c.Secret)
			if err != nil || kp.Public != c.Public {
				t.Fatalf("accepted a certificate whose keys do not match")
			}
		}
	})
}

func FuzzZ85(f *testing.F) {
	for _, v := range z85Vectors {
		f.Add(v.z85)
	}
	f.Add("%nSc1")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeZ85(s)
		if err != nil {
			return
		}
		back, err := EncodeZ85(b)
		if err != nil || back != s {
			t.Fatalf("round trip of %q gave %q, %v", s, back, err)
		}
	})
}

func TestKeygenCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Keygen("vpoller-proxy", []string{filepath.Join(dir, "proxy")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	kp, err := LoadKeyPair(filepath.Join(dir, "proxy.key_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "public key: "+kp.Public.String()+"\n") {
		t.Fatalf("output %q", out.String())
	}
	if code := Keygen("vpoller-proxy", []string{filepath.Join(dir, "proxy")}, &out, &errb); code != 1 {
		t.Fatalf("overwrite: exit %d", code)
	}
	if code := Keygen("vpoller-proxy", nil, &out, &errb); code != 2 {
		t.Fatalf("no name: exit %d", code)
	}
}

// The points of small order of Curve25519 (and non-canonical encodings
// of them), as libsodium's has_small_order lists them: X25519 with any
// of them gives a shared secret that does not depend on the secret key.
var lowOrderHex = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

func TestParseKeyHex(t *testing.T) {
	for _, tc := range []struct{ in, z85 string }{
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "009c61o!#m2NH?C3>iWS5d]J*6CRx17-skh9337x"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "009c61o!#m2NH?C3>iWS5d]J*6CRx17-skh9337x"},
		{"  ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n", "%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0"},
	} {
		k, err := ParseKey(tc.in)
		if err != nil || k.String() != tc.z85 {
			t.Errorf("ParseKey(%q) = %s, %v; want %s", tc.in, k, err, tc.z85)
		}
	}
	for _, bad := range []string{
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
		"0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
	} {
		if k, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) = %s, no error", bad, k)
		}
	}
}

func TestWeakKeysRefused(t *testing.T) {
	dir := t.TempDir()
	for i, h := range lowOrderHex {
		raw, _ := hex.DecodeString(h)
		var k Key
		copy(k[:], raw)
		if err := CheckPublic(k); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%s: CheckPublic = %v", h, err)
		}
		if _, err := ParsePublic(h); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%s: ParsePublic = %v", h, err)
		}
		// Inline, in Z85 and in hex, as a server key and in an allow-list.
		for _, spec := range []string{h, k.String()} {
			if _, err := LoadPublic(spec); !errors.Is(err, ErrWeakKey) {
				t.Errorf("LoadPublic(%s) = %v", spec, err)
			}
			if _, err := LoadAllowList(spec); !errors.Is(err, ErrWeakKey) {
				t.Errorf("LoadAllowList(%s) = %v", spec, err)
			}
		}
		// In a certificate file.
		cert := filepath.Join(dir, fmt.Sprintf("weak%d.key", i))
		if err := os.WriteFile(cert, []byte("curve\n    public-key = \""+k.String()+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPublic(cert); !errors.Is(err, ErrWeakKey) {
			t.Errorf("LoadPublic(certificate of %s) = %v", h, err)
		}
	}
	// Generated keys pass.
	for range 20 {
		kp, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckPublic(kp.Public); err != nil {
			t.Fatalf("generated key %s: %v", kp.Public, err)
		}
	}
	// An all-zero secret key is not a generated one.
	zero := "curve\n    public-key = \"" + mustFromSecret(t, Key{}).Public.String() + "\"\n    secret-key = \"" + Key{}.String() + "\"\n"
	if _, err := ParseCert([]byte(zero)); err == nil || !strings.Contains(err.Error(), "all zeros") {
		t.Errorf("all-zero secret key: %v", err)
	}
}

func mustFromSecret(t *testing.T, k Key) KeyPair {
	t.Helper()
	kp, err := FromSecret(k)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// Key files and allow-list directories that group or others can write
// are refused, with the chmod that fixes them, like per-vCenter files;
// secret key files also when group or others can read them.
func TestKeyFileModes(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "clients.d")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	kp, _ := Generate()
	pub, sec, err := WriteCertFiles(filepath.Join(store, "plugin"), kp)
	if err != nil {
		t.Fatal(err)
	}
	type load func() error
	loadAllow := func() error { _, err := LoadAllowList(store); return err }
	loadAllowFile := func() error { _, err := LoadAllowList(pub); return err }
	loadPub := func() error { _, err := LoadPublic(pub); return err }
	loadSec := func() error { _, err := LoadKeyPair(sec); return err }
	for _, tc := range []struct {
		name string
		path string
		mode os.FileMode
		load load
		want string // "" = accepted
	}{
		{"directory 0755", store, 0o755, loadAllow, ""},
		{"directory 0750", store, 0o750, loadAllow, ""},
		{"directory group-writable", store, 0o775, loadAllow, "chmod go-w " + store},
		{"directory world-writable", store, 0o777, loadAllow, "chmod go-w " + store},
		{"directory sticky world-writable", store, 0o777 | os.ModeSticky, loadAllow, "chmod go-w " + store},
		{"key file in a directory, 0644", pub, 0o644, loadAllow, ""},
		{"key file in a directory, group-writable", pub, 0o664, loadAllow, "chmod go-w " + pub},
		{"key file in a directory, world-writable", pub, 0o646, loadAllow, "chmod go-w " + pub},
		{"key file named in the list, world-writable", pub, 0o666, loadAllowFile, "chmod go-w " + pub},
		{"server key file, 0444", pub, 0o444, loadPub, ""},
		{"server key file, group-writable", pub, 0o660, loadPub, "chmod go-w " + pub},
		{"secret key 0600", sec, 0o600, loadSec, ""},
		{"secret key 0400", sec, 0o400, loadSec, ""},
		{"secret key group-readable", sec, 0o640, loadSec, "chmod 600 " + sec},
		{"secret key world-readable", sec, 0o604, loadSec, "chmod 600 " + sec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(tc.path, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := tc.load()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			// Back to the modes keygen writes.
			_ = os.Chmod(store, 0o755)
			_ = os.Chmod(pub, 0o644)
			_ = os.Chmod(sec, 0o600)
		})
	}
}

func TestAllowListAnyKeyAlone(t *testing.T) {
	kp, _ := Generate()
	for _, spec := range []string{"*", "*, " + kp.Public.String(), kp.Public.String() + ",*"} {
		if al, err := LoadAllowList(spec); err == nil {
			t.Errorf("LoadAllowList(%q) = %v: %s is for the configuration, not a key", spec, al, AnyKey)
		}
	}
}

func TestKeygenSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mgmt.secret")
	var out, errb bytes.Buffer
	if code := Keygen("vpoller-proxy", []string{"-secret", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	line := strings.TrimSuffix(string(raw), "\n")
	dec, err := base64.RawURLEncoding.DecodeString(line)
	if err != nil || len(dec) != SecretBytes || len(line) < MinSecretLen || strings.ContainsAny(line, " \t;#") {
		t.Fatalf("secret %q: %d bytes decoded, %v", line, len(dec), err)
	}
	// Two runs never write the same secret, and an existing file is kept.
	path2 := filepath.Join(dir, "other.secret")
	if code := Keygen("vpoller-proxy", []string{"--secret", path2}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if raw2, _ := os.ReadFile(path2); bytes.Equal(raw, raw2) {
		t.Fatal("two secrets alike")
	}
	if code := Keygen("vpoller-proxy", []string{"-secret", path}, &out, &errb); code != 1 {
		t.Fatalf("overwrite: exit %d", code)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, raw) {
		t.Fatal("existing secret overwritten")
	}
	for _, args := range [][]string{{"-secret"}, {"-secret", ""}, {"-x", "y"}, {"-name"}} {
		if code := Keygen("vpoller-proxy", args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
