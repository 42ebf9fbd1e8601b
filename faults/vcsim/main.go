// Command vcsim is a standalone simulated vCenter for the fault suite
// (make faults): govmomi's simulator package (model VPX, with the vAPI
// simulator's REST endpoints) served over HTTPS
// on a loopback address, as a process of its own, so that the suite can
// SIGSTOP, SIGKILL and restart "a vCenter".
//
// Its TLS certificate is written to -dir on the first start and read from
// there on later starts, so a worker that pinned the thumbprint keeps
// trusting it across restarts. Once serving, it prints one JSON line on
// stdout: {"url": ..., "host": ..., "port": ..., "thumbprint": ...}.
// SIGTERM or SIGINT stops it.
//
// (`go run` of govmomi's vcsim command does not work in this module; this
// small main on the simulator package does.)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"

	// vCenter's vAPI (/rest and /api: sessions, tagging), as the embedded
	// simulator serves it.
	_ "github.com/vmware/govmomi/vapi/simulator"
)

// announcement is the line printed once the simulator serves.
type announcement struct {
	URL        string `json:"url"`
	Host       string `json:"host"`
	Port       int    `json:"port"`
	Thumbprint string `json:"thumbprint"`
}

func main() {
	os.Exit(run())
}

func run() int {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (host:port; port 0 picks one)")
	dir := flag.String("dir", "", "directory keeping the TLS certificate across restarts (required)")
	user := flag.String("user", "user", "user name the simulator accepts")
	pass := flag.String("pass", "pass", "password the simulator accepts")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "vcsim: -dir is required")
		return 2
	}
	cert, err := loadOrCreateCert(*dir)
	if err != nil {
		log.Error("certificate", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	m := simulator.VPX()
	if err := m.Create(); err != nil {
		log.Error("create the VPX model", "err", err)
		return 1
	}
	defer m.Remove()
	m.Service.TLS = cert
	m.Service.RegisterEndpoints = true // the vAPI (REST) endpoints
	m.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	s, err := newServer(m)
	if err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	defer s.Close()
	host, port, err := net.SplitHostPort(s.URL.Host)
	if err != nil {
		log.Error("server address", "err", err)
		return 1
	}
	shown := *s.URL
	shown.User = nil
	a := announcement{URL: shown.String(), Host: host, Thumbprint: soap.ThumbprintSHA256(s.Certificate())}
	if _, err := fmt.Sscan(port, &a.Port); err != nil {
		log.Error("server port", "err", err)
		return 1
	}
	line, _ := json.Marshal(a)
	fmt.Println(string(line))
	log.Info("simulated vCenter serving", "url", s.URL.Host, "thumbprint", a.Thumbprint, "pid", os.Getpid())
	<-ctx.Done()
	log.Info("simulated vCenter stopping")
	return 0
}

// newServer starts the simulator's server; the simulator panics when it
// cannot listen (an address in use), which becomes an error here.
func newServer(m *simulator.Model) (s *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start the simulator server on %s: %v", m.Service.Listen.Host, r)
		}
	}()
	return m.Service.NewServer(), nil
}
