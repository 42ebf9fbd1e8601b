package zmtp

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

// SecretUser is the PLAIN user name management clients present with a
// shared secret.
const SecretUser = "vpoller"

// ServerSettings are the security settings of a bound socket, as the
// configuration file gives them (paths and key lists).
type ServerSettings struct {
	CurveSecretKey string // this end's secret certificate; CURVE when set
	// CurveAllow lists the accepted client keys (curvekey.LoadAllowList);
	// curvekey.AnyKey ("*") accepts any key. Empty is refused unless
	// AllowSelf: CURVE authenticates clients only with a list.
	CurveAllow string
	SecretFile string // PLAIN shared secret (when no CURVE key)
	// AllowSelf also accepts this end's own public key, so that whoever
	// can read its secret certificate (root, the daemon's user) can use
	// the socket without a key of their own: the management commands do.
	// With it, an empty CurveAllow accepts that key only.
	AllowSelf bool
}

// ServerMechanism builds a bound socket's mechanism: CURVE, PLAIN with
// the shared secret, or NULL when nothing is set. The description says
// which, for the start-up log. A CURVE server that would accept any
// client key must say so with CurveAllow = "*" (see AcceptsAnyKey).
func ServerMechanism(s ServerSettings) (Mechanism, string, error) {
	switch {
	case s.CurveSecretKey != "":
		kp, err := curvekey.LoadKeyPair(s.CurveSecretKey)
		if err != nil {
			return nil, "", err
		}
		allowSpec := strings.TrimSpace(s.CurveAllow)
		var allow curvekey.AllowList
		var desc string
		switch {
		case allowSpec == curvekey.AnyKey:
			desc = fmt.Sprintf("CURVE, server key %s, any client key (allow-list %s)", kp.Public, curvekey.AnyKey)
			return CurveServer(kp, nil), desc, nil
		case allowSpec == "" && !s.AllowSelf:
			return nil, "", fmt.Errorf("CURVE without an allow-list: list the client keys allowed (a directory of *.key files, "+
				"certificate files or keys), or give %s to accept any client key (encryption without client authentication)", curvekey.AnyKey)
		case allowSpec == "":
			allow = curvekey.AllowList{}
			desc = fmt.Sprintf("CURVE, server key %s, own key only", kp.Public)
		default:
			if allow, err = curvekey.LoadAllowList(allowSpec); err != nil {
				return nil, "", err
			}
			desc = fmt.Sprintf("CURVE, server key %s, %d allowed client keys", kp.Public, len(allow))
		}
		if s.AllowSelf {
			allow[kp.Public] = "own key"
		}
		return CurveServer(kp, allow), desc, nil
	case s.SecretFile != "":
		secret, err := ReadSecretFile(s.SecretFile)
		if err != nil {
			return nil, "", err
		}
		return PlainServer(SecretUser, secret), "PLAIN shared secret from " + s.SecretFile, nil
	}
	return Null(), "NULL (no authentication)", nil
}

// ClientMechanism builds a connecting socket's mechanism: CURVE when both
// the server's public key (Z85 or a certificate file) and this end's
// secret certificate are given, NULL when neither is.
func ClientMechanism(serverKey, secretKey string) (Mechanism, error) {
	switch {
	case serverKey == "" && secretKey == "":
		return Null(), nil
	case serverKey == "" || secretKey == "":
		return nil, errors.New("CURVE needs both the server's public key and this client's secret key")
	}
	srv, err := curvekey.LoadPublic(serverKey)
	if err != nil {
		return nil, err
	}
	kp, err := curvekey.LoadKeyPair(secretKey)
	if err != nil {
		return nil, err
	}
	return CurveClient(srv, kp), nil
}

// ReadSecretFile reads a shared secret: the file's first line, 32 to 255
// bytes (keygen -secret writes 32 random bytes, encoded), in a file that
// group and others cannot read or write. PLAIN sends it in the clear, so
// only its length stands between a guesser and the socket.
func ReadSecretFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("secret file %s: mode %04o lets group or others read or write it; chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	secret, _, _ := strings.Cut(string(data), "\n")
	secret = strings.TrimSpace(secret)
	if len(secret) < curvekey.MinSecretLen || len(secret) > 255 {
		return "", fmt.Errorf("secret file %s: the secret must be %d to 255 bytes on the first line, not %d; "+
			"make a new one with `vpoller-proxy keygen -secret FILE` (any vPoller binary does)", path, curvekey.MinSecretLen, len(secret))
	}
	return secret, nil
}
