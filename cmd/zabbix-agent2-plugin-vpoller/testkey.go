package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vpoller/zabbix-vpoller/plugin"
)

// testKey runs the plugin's own -t KEY (plugin.RunTest) when the command
// line asks for it, and reports whether it did with the exit status. The
// agent never starts the plugin that way: its arguments are a socket
// path and true|false.
func testKey(args []string) (code int, ran bool) {
	if !plugin.TestMode(args) {
		return 0, false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return plugin.RunTest(ctx, args, os.Stdout, os.Stderr), true
}
