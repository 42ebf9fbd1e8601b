//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
)

// Credentials of the standalone simulator (faults/vcsim defaults).
const (
	vcUser = "user"
	vcPass = "pass"
)

// vcenter is a standalone simulated vCenter process. Its agent name is
// also the address the worker connects to, so two of them on one worker
// are named "127.0.0.1" and "localhost" (both loopback).
type vcenter struct {
	s          *scenario
	p          *proc
	name       string
	port       int
	thumbprint string
	certDir    string
	starts     int
}

// startVcenter starts a simulator on a free loopback port.
func (s *scenario) startVcenter(name string) *vcenter {
	s.t.Helper()
	v := &vcenter{s: s, name: name, certDir: s.path("vcsim-" + name)}
	v.start("127.0.0.1:0")
	return v
}

func (v *vcenter) start(listen string) {
	v.s.t.Helper()
	v.starts++
	v.p = v.s.spawn(fmt.Sprintf("vcsim-%s-%d", v.name, v.starts), bins.vcsim, []string{"-listen", listen, "-dir", v.certDir}, spawnOpts{})
	select {
	case line := <-v.p.firstLine:
		var a struct {
			Port       int    `json:"port"`
			Thumbprint string `json:"thumbprint"`
		}
		v.s.must(json.Unmarshal([]byte(line), &a), "simulator announcement "+line)
		if v.thumbprint != "" && a.Thumbprint != v.thumbprint {
			v.s.fatalf("simulator %s restarted with another certificate: %s, was %s", v.name, a.Thumbprint, v.thumbprint)
		}
		v.port, v.thumbprint = a.Port, a.Thumbprint
	case <-v.p.done:
		v.s.fatalf("simulator %s exited at start:\n%s", v.name, tail(v.p.output(), 2000))
	case <-time.After(30 * time.Second):
		v.s.fatalf("simulator %s did not announce its address:\n%s", v.name, tail(v.p.output(), 2000))
	}
}

// restart starts the simulator again on the same port and certificate
// (after a kill).
func (v *vcenter) restart() {
	v.s.t.Helper()
	v.start(fmt.Sprintf("127.0.0.1:%d", v.port))
}

// agentFile is the worker's per-vCenter file: TLS pinned by thumbprint.
func (v *vcenter) agentFile(timeout int) string {
	lines := []string{"hostname = " + v.name, fmt.Sprintf("port = %d", v.port), "username = " + vcUser,
		"password = " + vcPass, "thumbprint = " + v.thumbprint}
	if timeout > 0 {
		lines = append(lines, fmt.Sprintf("timeout = %d", timeout))
	}
	return strings.Join(lines, "\n") + "\n"
}

// terminateOtherSessions logs in through the vSphere API and terminates
// every other session (SessionManager.TerminateSession), as an
// administrator or a session timeout would: the worker's session is lost.
func (v *vcenter) terminateOtherSessions(ctx context.Context) (int, error) {
	u := &url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", v.port), Path: vim25.Path}
	sc := soap.NewClient(u, true)
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return 0, fmt.Errorf("connect to the simulator: %w", err)
	}
	sm := session.NewManager(vc)
	if err := sm.Login(ctx, url.UserPassword(vcUser, vcPass)); err != nil {
		return 0, fmt.Errorf("log in to the simulator: %w", err)
	}
	defer func() { _ = sm.Logout(context.WithoutCancel(ctx)) }()
	own, err := sm.UserSession(ctx)
	if err != nil {
		return 0, fmt.Errorf("own session: %w", err)
	}
	var m mo.SessionManager
	if err := property.DefaultCollector(vc).RetrieveOne(ctx, sm.Reference(), []string{"sessionList"}, &m); err != nil {
		return 0, fmt.Errorf("session list: %w", err)
	}
	var ids []string
	for _, us := range m.SessionList {
		if us.Key != own.Key {
			ids = append(ids, us.Key)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := sm.TerminateSession(ctx, ids); err != nil {
		return 0, fmt.Errorf("terminate sessions: %w", err)
	}
	return len(ids), nil
}
