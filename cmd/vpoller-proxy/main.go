// Command vpoller-proxy runs the vPoller broker between clients and workers,
// or asks a running one for its status or to stop, with the commands of the
// original Python vpoller-proxy:
//
//	vpoller-proxy [-f CONFIG] [-d] start
//	vpoller-proxy [-f CONFIG] [-e MGMT_ENDPOINT] status [--pretty] | stop
//	vpoller-proxy --version
//
// start runs in the foreground until SIGINT/SIGTERM or a shutdown request;
// SIGHUP does not end it (it reloads nothing, and reopens the log file),
// SIGUSR1 reopens [proxy] log_file. Exit status: 0 on success, 1 when the
// proxy failed or no management reply arrived, 2 for a bad command line.
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
	// Caught from the start: by default SIGHUP (a closed terminal, a
	// reload meant for the worker) and SIGUSR1 would end the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	signals = sigs
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
