// Command vpoller-worker is the vPoller worker daemon: it connects to a
// vPoller proxy's backend and answers vSphere requests, with the command
// line of the original Python vpoller-worker:
//
//	vpoller-worker [-f CONFIG] [-c CONCURRENCY] [-d] start
//	vpoller-worker [-f CONFIG] [-e MGMT_ENDPOINT] status|stop
//
// start runs in the foreground and logs to stderr; SIGINT or SIGTERM (or
// "stop") make it stop taking requests, finish those in flight and log
// out of vSphere. Exit status: 0 on success, 1 on a runtime failure or no
// management reply, 2 for a bad command line.
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
