package curvekey

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
)

// KeygenUsage documents the keygen command every vPoller binary offers.
const KeygenUsage = `keygen NAME           write a CURVE key pair: NAME.key (public, give it to the peers)
                      and NAME.key_secret (secret, mode 0600, keep it where this program runs)
keygen -secret FILE   write a management shared secret (mgmt_secret_file): 32 random
                      bytes, base64url-encoded, in FILE (mode 0600)`

// SecretBytes is the size of the random shared secrets keygen -secret
// writes; MinSecretLen is the shortest secret line accepted (see
// zmtp.ReadSecretFile): a shared secret is only as strong as it is long.
const (
	SecretBytes  = 32
	MinSecretLen = 32
)

// Keygen is the keygen command of the vPoller binaries: it writes a new
// key pair as NAME.key and NAME.key_secret and prints the public key, or,
// with -secret FILE, a new management shared secret. It returns the exit
// status.
func Keygen(prog string, args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintf(stderr, "usage: %s keygen NAME | keygen -secret FILE\n%s\n", prog, KeygenUsage)
		return 2
	}
	if len(args) == 2 && (args[0] == "-secret" || args[0] == "--secret") && args[1] != "" {
		if err := WriteSecretFile(args[1]); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return 1
		}
		fmt.Fprintf(stdout, "shared secret: %s (mode 0600); give the same file to the management clients\n", args[1])
		return 0
	}
	if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
		return usage()
	}
	kp, err := Generate()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	pub, sec, err := WriteCertFiles(args[0], kp)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	fmt.Fprintf(stdout, "public key: %s\npublic certificate: %s\nsecret certificate: %s (mode 0600)\n", kp.Public, pub, sec)
	return 0
}

// NewSecret returns SecretBytes random bytes as unpadded base64url text
// (43 characters): printable, free of the characters INI files and shells
// treat specially.
func NewSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("shared secret: random source: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// WriteSecretFile writes a new shared secret to path (mode 0600), which
// must not exist yet.
func WriteSecretFile(path string) error {
	secret, err := NewSecret()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write shared secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write shared secret %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write shared secret %s: %w", path, err)
	}
	return nil
}
