package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
)

// memoryHeadroom is what the proxy may use beyond max_memory (connections,
// buffers, its own state) before the collector works harder.
const memoryHeadroom = 32 << 20

// mgmtTimeout bounds a status or stop call.
const mgmtTimeout = 5 * time.Second

const usage = `Usage:
  vpoller-proxy [-f CONFIG] [-d] start
  vpoller-proxy [-f CONFIG] [-e MGMT_ENDPOINT] status|stop
  vpoller-proxy keygen NAME | keygen -secret FILE

status and stop authenticate as the configuration's [proxy] mgmt_* settings
say (the shared secret, or the proxy's own CURVE key).
` + curvekey.KeygenUsage + `

Options:
`

// run is main without the process: testable, and it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("vpoller-proxy", flag.ContinueOnError)
	fl.SetOutput(stderr)
	file := fl.String("f", "", "configuration file (default "+config.DefaultPath+" if it exists, else built-in defaults)")
	debug := fl.Bool("d", false, "debug logging")
	endpoint := fl.String("e", "", "management endpoint for status/stop (default: [proxy] mgmt of the configuration)")
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() >= 1 && fl.Arg(0) == "keygen" {
		return curvekey.Keygen("vpoller-proxy", fl.Args()[1:], stdout, stderr)
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, defaulted, err := config.LoadOrDefault(*file)
	if defaulted && fl.Arg(0) == "start" {
		log.Warn("no configuration file, using built-in defaults", "path", config.DefaultPath)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-proxy: %v\n", err)
		return 1
	}
	switch cmd := fl.Arg(0); cmd {
	case "start":
		return start(ctx, cfg.Proxy, log, stderr)
	case "status", "stop":
		ep := *endpoint
		if ep == "" {
			ep = cfg.Proxy.Mgmt
		}
		return mgmt.CommandLine(ctx, "vpoller-proxy", ep, cmd, mgmtTimeout, cfg.Proxy.MgmtSecurity, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vpoller-proxy: unknown command %q\n", cmd)
		fl.Usage()
		return 2
	}
}

func start(ctx context.Context, cfg config.Proxy, log *slog.Logger, stderr io.Writer) int {
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MaxMemory > 0 {
		// The budget bounds the bytes of messages held; the soft limit
		// makes the collector return what the budget released before
		// the heap grows past it (plus room for the rest of the proxy).
		debug.SetMemoryLimit(int64(cfg.MaxMemory) + memoryHeadroom)
	}
	p, err := proxy.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-proxy: %v\n", err)
		return 1
	}
	if err := p.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "vpoller-proxy: %v\n", err)
		return 1
	}
	return 0
}
