package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

const usage = `Usage:
  vpoller-worker [-f CONFIG] [-c CONCURRENCY] [-d] start
  vpoller-worker [-f CONFIG] [-e MGMT_ENDPOINT] status|stop
  vpoller-worker keygen NAME | keygen -secret FILE

status and stop authenticate as the configuration's [worker] mgmt_* settings
say (the shared secret, or the worker's own CURVE key).
` + curvekey.KeygenUsage + `

Options:
`

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("vpoller-worker", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
	}
	path := fl.String("f", "", "configuration file (default "+config.DefaultPath+" if it exists, else built-in defaults)")
	concurrency := fl.Int("c", 0, "requests handled at once (default: [worker] concurrency, 16)")
	debug := fl.Bool("d", false, "debug logging")
	endpoint := fl.String("e", "", "management endpoint for status/stop (default: [worker] mgmt)")
	reqTimeout := fl.Duration("request-timeout", worker.DefaultRequestTimeout, "time limit of one request")
	maxBytes := fl.Int("max-request-bytes", worker.DefaultMaxRequestBytes, "largest request frame accepted")
	mgmtTimeout := fl.Duration("mgmt-timeout", 5*time.Second, "how long status/stop wait for the reply")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() >= 1 && fl.Arg(0) == "keygen" {
		return curvekey.Keygen("vpoller-worker", fl.Args()[1:], stdout, stderr)
	}
	if fl.NArg() != 1 {
		fmt.Fprintln(stderr, "vpoller-worker: want exactly one command: start, status, stop or keygen")
		fl.Usage()
		return 2
	}
	if *concurrency < 0 {
		fmt.Fprintln(stderr, "vpoller-worker: -c must be positive")
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// status and stop read the configuration too, for the management
	// socket's credentials, even when -e names the endpoint; only a
	// default file that does not exist is passed over then.
	cfg, defaulted, err := config.LoadOrDefault(*path)
	if defaulted && fl.Arg(0) == "start" {
		logger.Warn("no configuration file, using built-in defaults", "path", config.DefaultPath)
	}
	switch cmd := fl.Arg(0); cmd {
	case "start":
		if err != nil {
			fmt.Fprintf(stderr, "vpoller-worker: %v\n", err)
			return 1
		}
		if *concurrency > 0 {
			cfg.Worker.Concurrency = *concurrency
		}
		return start(ctx, cfg, worker.Options{RequestTimeout: *reqTimeout, MaxRequestBytes: *maxBytes}, logger, stderr)
	case "status", "stop":
		ep := *endpoint
		if ep == "" {
			if err != nil {
				fmt.Fprintf(stderr, "vpoller-worker: %v (give -e)\n", err)
				return 1
			}
			ep = cfg.Worker.Mgmt
		}
		var sec config.Security // none: -e given, the configuration unreadable
		if cfg != nil {
			sec = cfg.Worker.MgmtSecurity
		}
		return mgmt.CommandLine(ctx, "vpoller-worker", ep, cmd, *mgmtTimeout, sec, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vpoller-worker: unknown command %q\n", cmd)
		fl.Usage()
		return 2
	}
}

func start(ctx context.Context, cfg *config.Config, wo worker.Options, logger *slog.Logger, stderr io.Writer) int {
	d, err := worker.Start(ctx, cfg, worker.DaemonOptions{Logger: logger, Worker: wo})
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-worker: %v\n", err)
		return 1
	}
	select {
	case <-ctx.Done():
		logger.Info("signal received, stopping")
	case <-d.ShutdownRequested():
	}
	if err := d.Stop(); err != nil {
		logger.Error("stopped with errors", "err", err)
		return 1
	}
	return 0
}
