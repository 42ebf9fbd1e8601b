// Command vpoller-worker is the vPoller worker daemon: it connects to a
// vPoller proxy's backend and answers vSphere requests, with the command
// line of the original Python vpoller-worker:
//
//	vpoller-worker [-f CONFIG] [-c CONCURRENCY] [-d] start
//	vpoller-worker [-f CONFIG] [-e MGMT_ENDPOINT] status [--pretty] | stop | reload
//	vpoller-worker --version
//
// start runs in the foreground and logs to stderr, or to [worker]
// log_file; SIGINT or SIGTERM (or "stop") make it stop taking requests,
// finish those in flight and log out of vSphere. SIGHUP reloads the
// vCenters (vsphere_hosts_dir, db) without dropping the others; SIGUSR1
// reopens the log file. Exit status: 0 on success, 1 on a runtime failure
// or no management reply, 2 for a bad command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	buildinfo.Set(version)
	// Caught from the start: by default SIGHUP would end the process (a
	// closed terminal, a reload meant for it), SIGUSR1 too.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	signals = sigs
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
