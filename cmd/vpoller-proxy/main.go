// Command vpoller-proxy runs the vPoller broker between clients and workers,
// or asks a running one for its status or to stop, with the commands of the
// original Python vpoller-proxy:
//
//	vpoller-proxy [-f CONFIG] [-d] start
//	vpoller-proxy [-f CONFIG] [-e MGMT_ENDPOINT] status|stop
//
// start runs in the foreground until SIGINT/SIGTERM or a shutdown request.
// Exit status: 0 on success, 1 when the proxy failed or no management reply
// arrived, 2 for a bad command line.
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
