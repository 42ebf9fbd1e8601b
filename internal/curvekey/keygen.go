package curvekey

import (
	"fmt"
	"io"
)

// KeygenUsage documents the keygen command every vPoller binary offers.
const KeygenUsage = `keygen NAME   write a CURVE key pair: NAME.key (public, give it to the peers)
                and NAME.key_secret (secret, mode 0600, keep it where this program runs)`

// Keygen is the keygen command of the vPoller binaries: it writes a new
// key pair as NAME.key and NAME.key_secret and prints the public key. It
// returns the exit status.
func Keygen(prog string, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintf(stderr, "usage: %s keygen NAME\n%s\n", prog, KeygenUsage)
		return 2
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
