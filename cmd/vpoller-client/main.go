// Command vpoller-client sends one task request to a vPoller proxy and
// prints the reply, with the flags and defaults of the original Python
// vpoller-client (10 s per attempt, 3 attempts, tcp://localhost:10123).
//
// Exit status, as the original's: 0 when a reply arrived (whatever its
// success field says) and also when none did, in which case stdout holds
// the original's {"success": 1, "msg": "Did not receive response,
// aborting..."} and stderr the message; 1 when no request could be made
// (a handshake the proxy refused, an unwritable stdout); 2 for a bad
// command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
