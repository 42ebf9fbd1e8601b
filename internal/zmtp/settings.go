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
	CurveAllow     string // accepted client keys; empty: any key
	SecretFile     string // PLAIN shared secret (when no CURVE key)
	// AllowSelf also accepts this end's own public key, so that whoever
	// can read its secret certificate (root, the daemon's user) can use
	// the socket without a key of their own: the management commands do.
	AllowSelf bool
}

// ServerMechanism builds a bound socket's mechanism: CURVE, PLAIN with
// the shared secret, or NULL when nothing is set. The description says
// which, for the start-up log.
func ServerMechanism(s ServerSettings) (Mechanism, string, error) {
	switch {
	case s.CurveSecretKey != "":
		kp, err := curvekey.LoadKeyPair(s.CurveSecretKey)
		if err != nil {
			return nil, "", err
		}
		var allow curvekey.AllowList
		if s.CurveAllow != "" {
			if allow, err = curvekey.LoadAllowList(s.CurveAllow); err != nil {
				return nil, "", err
			}
		}
		desc := fmt.Sprintf("CURVE, server key %s, any client key", kp.Public)
		if allow != nil {
			desc = fmt.Sprintf("CURVE, server key %s, %d allowed client keys", kp.Public, len(allow))
		}
		if s.AllowSelf {
			if allow == nil {
				allow = curvekey.AllowList{}
			}
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

// ReadSecretFile reads a shared secret: the file's first line, 8 to 255
// bytes, in a file that group and others cannot read or write.
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
	if len(secret) < 8 || len(secret) > 255 {
		return "", fmt.Errorf("secret file %s: the secret must be 8 to 255 bytes on the first line, not %d", path, len(secret))
	}
	return secret, nil
}
