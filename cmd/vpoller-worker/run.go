package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/logfile"
	"github.com/vpoller/zabbix-vpoller/lld/helpers"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

const usage = `Usage:
  vpoller-worker [-f CONFIG] [-c CONCURRENCY] [-d] start
  vpoller-worker [-f CONFIG] [-e MGMT_ENDPOINT] status [--pretty] | stop | reload
  vpoller-worker keygen NAME | keygen -secret FILE
  vpoller-worker --version | version

start runs in the foreground. Signals: SIGTERM or SIGINT stop it (requests
in flight finish); SIGHUP reloads the vCenters ([worker] db and
vsphere_hosts_dir; vpoller.conf's other settings need a restart); SIGUSR1
reopens [worker] log_file (for logrotate). "reload" asks a running worker
to reload its vCenters over the management socket (as SIGHUP does) and
prints what changed.

Options may also follow the command (status --pretty, stop -e ENDPOINT).

status, stop and reload authenticate as the configuration's [worker] mgmt_* settings
say (the shared secret, or the worker's own CURVE key). When that endpoint
does not answer they try what a worker started from an earlier
configuration still listens on: the same ipc:// socket without credentials,
and (without -e, with the default configuration file) the built-in ` + config.DefaultWorkerMgmt + `.
` + curvekey.KeygenUsage + `

Options:
`

// signals delivers SIGHUP and SIGUSR1 to a running start (main sets it;
// nil, which never delivers, when run is called by tests).
var signals <-chan os.Signal

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
	endpoint := fl.String("e", "", "management endpoint for status/stop/reload (default: [worker] mgmt)")
	reqTimeout := fl.Duration("request-timeout", worker.DefaultRequestTimeout, "time limit of one request")
	maxBytes := fl.Int("max-request-bytes", worker.DefaultMaxRequestBytes, "largest request frame accepted")
	mgmtTimeout := fl.Duration("mgmt-timeout", 5*time.Second, "how long status/stop wait for the reply")
	pretty := fl.Bool("pretty", false, "status: print the reply as indented JSON")
	cmd, code, done := mgmt.ParseCommand(fl, args, stdout, stderr)
	if done {
		return code
	}
	if cmd == "" {
		fmt.Fprintln(stderr, "vpoller-worker: want exactly one command: start, status, stop, reload, keygen or version")
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

	// status and stop read the configuration too, for the management
	// socket's credentials, even when -e names the endpoint; only a
	// default file that does not exist is passed over then.
	cfg, defaulted, err := config.LoadOrDefault(*path)
	switch cmd {
	case "start":
		if err != nil {
			fmt.Fprintf(stderr, "vpoller-worker: %v\n", err)
			return 1
		}
		logger, lf, err := logfile.Logger(cfg.Resolve(cfg.Worker.LogFile), stderr, level)
		if err != nil {
			fmt.Fprintf(stderr, "vpoller-worker: %s: %v\n", cfg.Worker.LogFile, err)
			return 1
		}
		if lf != nil {
			defer lf.Close()
		}
		if defaulted {
			logger.Warn("no configuration file, using built-in defaults", "path", config.DefaultPath)
		}
		if *concurrency > 0 {
			cfg.Worker.Concurrency = *concurrency
		}
		return start(ctx, cfg, worker.Options{RequestTimeout: *reqTimeout, MaxRequestBytes: *maxBytes, Formatters: helpers.Formatters()}, logger, lf, stderr)
	case "status", "stop", "reload":
		o := mgmt.CommandOptions{Prog: "vpoller-worker", Cmd: cmd, Endpoint: *endpoint, Timeout: *mgmtTimeout, Pretty: *pretty}
		if o.Endpoint == "" {
			if err != nil {
				fmt.Fprintf(stderr, "vpoller-worker: %v (give -e)\n", err)
				return 1
			}
			o.Endpoint = cfg.Worker.Mgmt
			if cfg.Path == config.DefaultPath {
				// Only for the system's own configuration: with another
				// file, the built-in socket may be another worker's.
				o.Fallback = config.DefaultWorkerMgmt
			}
		}
		if cfg != nil { // else none: -e given, the configuration unreadable
			o.Security = cfg.Worker.MgmtSecurity
		}
		return mgmt.RunCommand(ctx, o, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vpoller-worker: unknown command %q\n", cmd)
		fl.Usage()
		return 2
	}
}

func start(ctx context.Context, cfg *config.Config, wo worker.Options, logger *slog.Logger, lf *logfile.File, stderr io.Writer) int {
	d, err := worker.Start(ctx, cfg, worker.DaemonOptions{Logger: logger, Worker: wo})
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-worker: %v\n", err)
		if lf != nil {
			logger.Error("vPoller worker did not start", "version", buildinfo.Version(), "err", err)
		}
		return 1
	}
	for running := true; running; {
		select {
		case <-ctx.Done():
			logger.Info("signal received, stopping")
			running = false
		case <-d.ShutdownRequested():
			running = false
		case s := <-signals:
			switch s {
			case syscall.SIGHUP:
				logger.Info("SIGHUP received: reloading the vCenters")
				_, _ = d.Reload(ctx) // logs what changed, or why not
			case syscall.SIGUSR1:
				reopen(logger, lf)
			}
		}
	}
	if err := d.Stop(); err != nil {
		logger.Error("stopped with errors", "err", err)
		return 1
	}
	return 0
}

// reopen reopens the log file (SIGUSR1, after logrotate moved it).
func reopen(logger *slog.Logger, lf *logfile.File) {
	if lf == nil {
		logger.Info("SIGUSR1 received: no log_file to reopen (logging to stderr)")
		return
	}
	if err := lf.Reopen(); err != nil {
		logger.Error("log file not reopened; still writing to the old one", "file", lf.Path(), "err", err)
		return
	}
	logger.Info("log file reopened", "file", lf.Path())
}
