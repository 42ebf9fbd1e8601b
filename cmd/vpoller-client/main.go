// Command vpoller-client sends one task request to a vPoller proxy and
// prints the reply, with the flags and defaults of the original Python
// vpoller-client (10 s per attempt, 3 attempts, tcp://localhost:10123).
//
// Exit status: 0 when a reply arrived (whatever its success field says),
// 1 when none did (stderr: "Did not receive response, aborting..."),
// 2 for a bad command line.
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
