package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/logfile"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
)

// memoryHeadroom is what the proxy may use beyond max_memory (connections,
// buffers, its own state) before the collector works harder.
const memoryHeadroom = 32 << 20

// mgmtTimeout bounds a status or stop call.
const mgmtTimeout = 5 * time.Second

const usage = `Usage:
  vpoller-proxy [-f CONFIG] [-d] start
  vpoller-proxy [-f CONFIG] [-e MGMT_ENDPOINT] status [--pretty] | stop
  vpoller-proxy keygen NAME | keygen -secret FILE
  vpoller-proxy --version | version

start runs in the foreground. Signals: SIGTERM or SIGINT stop it; SIGHUP
reloads nothing (the proxy holds no per-vCenter files; vpoller.conf changes
need a restart) but reopens [proxy] log_file, and does not end the proxy;
SIGUSR1 reopens [proxy] log_file (for logrotate).

Options may also follow the command (status --pretty, stop -e ENDPOINT).

status and stop authenticate as the configuration's [proxy] mgmt_* settings
say (the shared secret, or the proxy's own CURVE key). When that endpoint
does not answer they try what a proxy started from an earlier
configuration still listens on: the same ipc:// socket without credentials,
and (without -e, with the default configuration file) the built-in ` + config.DefaultProxyMgmt + `.
` + curvekey.KeygenUsage + `

Options:
`

// signals delivers SIGHUP and SIGUSR1 to a running start (main sets it;
// nil, which never delivers, when run is called by tests).
var signals <-chan os.Signal

// run is main without the process: testable, and it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("vpoller-proxy", flag.ContinueOnError)
	fl.SetOutput(stderr)
	file := fl.String("f", "", "configuration file (default "+config.DefaultPath+" if it exists, else built-in defaults)")
	debugLog := fl.Bool("d", false, "debug logging")
	endpoint := fl.String("e", "", "management endpoint for status/stop (default: [proxy] mgmt of the configuration)")
	pretty := fl.Bool("pretty", false, "status: print the reply as indented JSON")
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
	}
	cmd, code, done := mgmt.ParseCommand(fl, args, stdout, stderr)
	if done {
		return code
	}
	if cmd == "" {
		fl.Usage()
		return 2
	}
	level := slog.LevelInfo
	if *debugLog {
		level = slog.LevelDebug
	}

	cfg, defaulted, err := config.LoadOrDefault(*file)
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-proxy: %v\n", err)
		return 1
	}
	switch cmd {
	case "start":
		log, lf, err := logfile.Logger(cfg.Resolve(cfg.Proxy.LogFile), stderr, level)
		if err != nil {
			fmt.Fprintf(stderr, "vpoller-proxy: %s: %v\n", cfg.Proxy.LogFile, err)
			return 1
		}
		if lf != nil {
			defer lf.Close()
		}
		if defaulted {
			log.Warn("no configuration file, using built-in defaults", "path", config.DefaultPath)
		}
		return start(ctx, cfg.Proxy, log, lf, stderr)
	case "status", "stop":
		o := mgmt.CommandOptions{Prog: "vpoller-proxy", Cmd: cmd, Endpoint: *endpoint, Timeout: mgmtTimeout, Pretty: *pretty,
			Security: cfg.Proxy.MgmtSecurity}
		if o.Endpoint == "" {
			o.Endpoint = cfg.Proxy.Mgmt
			if cfg.Path == config.DefaultPath {
				// Only for the system's own configuration: with another
				// file, the built-in socket may be another proxy's.
				o.Fallback = config.DefaultProxyMgmt
			}
		}
		return mgmt.RunCommand(ctx, o, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vpoller-proxy: unknown command %q\n", cmd)
		fl.Usage()
		return 2
	}
}

func start(ctx context.Context, cfg config.Proxy, log *slog.Logger, lf *logfile.File, stderr io.Writer) int {
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MaxMemory > 0 {
		// The budget bounds the bytes of messages held; the soft limit
		// makes the collector return what the budget released before
		// the heap grows past it (plus room for the rest of the proxy).
		debug.SetMemoryLimit(int64(cfg.MaxMemory) + memoryHeadroom)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "vpoller-proxy: %v\n", err)
		if lf != nil {
			log.Error("vPoller proxy failed", "version", buildinfo.Version(), "err", err)
		}
		return 1
	}
	p, err := proxy.New(proxyOptions(cfg, log))
	if err != nil {
		return fail(err)
	}
	log.Info("vPoller proxy starting", "version", buildinfo.Version(), "pid", os.Getpid())
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fail(err)
			}
			return 0
		case s := <-signals:
			switch s {
			case syscall.SIGHUP:
				log.Info("SIGHUP received: the proxy has nothing to reload (restart it to apply vpoller.conf changes); log file reopened if any")
				reopen(log, lf)
			case syscall.SIGUSR1:
				reopen(log, lf)
			}
		}
	}
}

// reopen reopens the log file (SIGUSR1, after logrotate moved it).
func reopen(log *slog.Logger, lf *logfile.File) {
	if lf == nil {
		return
	}
	if err := lf.Reopen(); err != nil {
		log.Error("log file not reopened; still writing to the old one", "file", lf.Path(), "err", err)
		return
	}
	log.Info("log file reopened", "file", lf.Path())
}
