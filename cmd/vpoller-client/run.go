package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// Exit statuses.
const (
	exitOK     = 0 // a reply, or the original's no-reply object, was printed
	exitFailed = 1 // no reply could be asked for (a refused handshake, a write error)
	exitUsage  = 2
)

// version is set at build time (-ldflags "-X main.version=...").
var version = ""

// versionString is what --version prints: the stamped version, else the
// one go build embedded.
func versionString() string {
	buildinfo.Set(version)
	return buildinfo.Line("vpoller-client")
}

// run is the whole command: parse, send, print. The reply frame is printed
// as it came (a helper's trailing NUL included) plus a newline, as the
// original's print(result) does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-client: %v\n\n%s", err, usageText)
		return exitUsage
	}
	switch {
	case cfg.Help:
		fmt.Fprint(stdout, usageText)
		return exitOK
	case cfg.Version:
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case cfg.Keygen != "":
		return curvekey.Keygen("vpoller-client", []string{cfg.Keygen}, stdout, stderr)
	}
	mech, err := zmtp.ClientMechanism(cfg.CurveServerKey, cfg.CurveSecretKey)
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-client: %v\n", err)
		return exitUsage
	}

	logger := slog.New(slog.DiscardHandler)
	if cfg.Debug {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logger.Debug("sending request", "endpoint", cfg.Endpoint, "request", &cfg.Request)
	}
	c, err := client.New(cfg.Endpoint, client.Options{
		Timeout: cfg.Timeout, Retries: cfg.Retries, PoolSize: 1, Logger: logger, Mechanism: mech,
	})
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-client: %v\n", err)
		return exitUsage
	}
	defer c.Close()

	reply, err := c.Do(ctx, cfg.Request.Encode())
	if errors.Is(err, client.ErrNoReply) {
		// As the original: its reply object on stdout, the message on
		// stderr, exit status 0 (scripts parse stdout).
		fmt.Fprintln(stderr, client.ErrNoReply.Error())
		// Then what happened, which the original never said: the
		// proxy refused, or took the request and stayed silent.
		var ce *client.CallError
		if errors.As(err, &ce) && len(ce.Attempts) > 0 {
			fmt.Fprintf(stderr, "vpoller-client: %s\n", ce.Summary())
		}
		logger.Debug("no reply", "err", err)
		reply, err = vpoller.Fail(client.ErrNoReply.Error()).Encode(vpoller.Python), nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "vpoller-client: %v\n", err)
		return exitFailed
	}
	if _, err := stdout.Write(append(reply, '\n')); err != nil {
		fmt.Fprintf(stderr, "vpoller-client: writing the reply: %v\n", err)
		return exitFailed
	}
	return exitOK
}
