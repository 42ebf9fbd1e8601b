package curvekey

import (
	"bytes"
	"encoding/hex"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCert(data)
		if err != nil {
			return
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
