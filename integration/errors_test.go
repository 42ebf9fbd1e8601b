package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

// The errors an administrator can cause, as the command line shows them:
// each message names the object and the fix.

// cli runs the vpoller-client built for the test and returns the reply
// it printed (stdout, decoded) and its stderr.
func cli(t *testing.T, bin string, args ...string) (*vpoller.Response, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("vpoller-client %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	resp, err := vpoller.DecodeResponse(bytes.TrimSpace(stdout.Bytes()))
	if err != nil {
		t.Fatalf("vpoller-client %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
	}
	return resp, stderr.String()
}

// errChain is a proxy and a worker in process, serving agents, with the
// proxy's clock under the test's control (its start-up grace, during
// which requests for vCenters no worker announced are held, can be
// skipped).
type errChain struct {
	frontend string
	offset   atomic.Int64 // added to the proxy's clock
	log      testutil.Buffer
}

func startErrChain(t *testing.T, agents []vsphere.AgentConfig) *errChain {
	t.Helper()
	c := &errChain{}
	logger := slog.New(slog.NewTextHandler(&c.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := vsphere.NewService(agents, vsphere.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0",
		MaxRequestBytes: 1 << 20, Logger: quiet(),
		Now: func() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)
	c.frontend = p.Addrs().Frontend
	runErrWorker(t, svc, p.Addrs().Backend, logger)
	return c
}

// runErrWorker runs a worker for svc connected to backend until the test
// ends, then closes svc.
func runErrWorker(t *testing.T, svc *vsphere.Service, backend string, logger *slog.Logger) {
	t.Helper()
	w, err := worker.New(svc, worker.Options{Proxy: backend, Concurrency: 8, Logger: logger, Unreachable: vsphere.Unreachable})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		// Bounded, and reported: a close cut short would leave the
		// agents' goroutines to goleak at the end of the package.
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		if err := svc.Close(cctx); err != nil {
			t.Errorf("closing the worker's vSphere service: %v", err)
		}
	})
	// Connected and announced: a request for a served vCenter is answered.
	for deadline := time.Now().Add(20 * time.Second); ; {
		if w.Stats().Connected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("worker did not connect to the proxy")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Through our proxy: a name no worker serves (another case, an IP
// address, a short name) is refused with the name, the names served and
// the rule, and the name probably meant.
func TestCLIUnknownVCenterThroughProxy(t *testing.T) {
	bin := buildClient(t)
	c := startErrChain(t, []vsphere.AgentConfig{{Name: agentName, Simulator: true}})
	// A served name works (the worker has announced it) ...
	if resp, _ := cli(t, bin, "-e", c.frontend, "-t", "15000", "-r", "1", "-m", "about", "-V", agentName, "-p", "version"); resp.Failed() {
		t.Fatalf("served vCenter: %+v", resp)
	}
	c.offset.Store(int64(time.Minute)) // past the proxy's start-up grace
	for _, tc := range []struct{ name, want string }{
		{"VCSIM.local", `No vPoller worker serves vCenter "VCSIM.local" (served: vcsim.local; names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names; did you mean "vcsim.local"?)`},
		{"vcsim", `No vPoller worker serves vCenter "vcsim" (served: vcsim.local; names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names; did you mean "vcsim.local"?)`},
		{"10.0.0.5", `No vPoller worker serves vCenter "10.0.0.5" (served: vcsim.local; names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names)`},
	} {
		resp, _ := cli(t, bin, "-e", c.frontend, "-t", "5000", "-r", "1", "-m", "vm.discover", "-V", tc.name)
		if resp.Success != 1 || resp.Msg != tc.want {
			t.Errorf("-V %s: success=%d msg\n%s\nwant\n%s", tc.name, resp.Success, resp.Msg, tc.want)
		}
	}
}

// From the worker (behind an ordinary proxy, as with py-vpoller's,
// which hands every request to any worker): the original's message,
// completed, and one log line per name however often it is asked for.
func TestCLIUnknownVCenterFromWorker(t *testing.T) {
	bin := buildClient(t)
	front, back := testutil.FreePort(t), testutil.FreePort(t)
	py := testutil.StartPython(t, "../plugin/integration/testdata/zmq_proxy.py", fmt.Sprintf("tcp://127.0.0.1:%d", front), fmt.Sprintf("tcp://127.0.0.1:%d", back))
	if py.Line != "ready" {
		t.Fatalf("python zmq proxy: %q %s", py.Line, py.Stop())
	}
	var log testutil.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	svc, err := vsphere.NewService([]vsphere.AgentConfig{{Name: agentName, Simulator: true}, {Name: "vc02.example.org", Simulator: true}},
		vsphere.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	runErrWorker(t, svc, fmt.Sprintf("tcp://127.0.0.1:%d", back), logger)
	frontend := fmt.Sprintf("tcp://127.0.0.1:%d", front)

	want := `Unknown or missing agent name "VCSIM.local": this worker serves vc02.example.org, vcsim.local (names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names; did you mean "vcsim.local"?)`
	for range 3 {
		resp, _ := cli(t, bin, "-e", frontend, "-t", "10000", "-r", "1", "-m", "vm.discover", "-V", "VCSIM.local")
		if resp.Success != 1 || resp.Msg != want {
			t.Fatalf("success=%d msg\n%s\nwant\n%s", resp.Success, resp.Msg, want)
		}
	}
	if resp, _ := cli(t, bin, "-e", frontend, "-t", "10000", "-r", "1", "-m", "vm.discover", "-V", "10.0.0.5"); !strings.HasPrefix(resp.Msg, `Unknown or missing agent name "10.0.0.5": this worker serves`) {
		t.Errorf("-V 10.0.0.5: msg %q", resp.Msg)
	}
	lines := strings.Count(log.String(), `msg="request for a vCenter this worker does not serve`)
	named := strings.Count(log.String(), `vcenter=VCSIM.local served="vc02.example.org, vcsim.local"`)
	if lines != 2 || named != 1 {
		t.Errorf("%d unknown-name log lines (want 2: one per name), %d for VCSIM.local (want 1):\n%s", lines, named, log.String())
	}
}

// A vCenter that refuses connections is reported as such, naming it,
// at once (not after the request's timeout as "context deadline
// exceeded").
func TestCLIVCenterDown(t *testing.T) {
	bin := buildClient(t)
	dead := testutil.FreeAddr(t)
	host, port, _ := strings.Cut(dead, ":")
	p, _ := strconv.Atoi(port)
	c := startErrChain(t, []vsphere.AgentConfig{{Name: "vc01.example.org", Host: host, Port: p, Username: "u", Password: "p",
		Thumbprint: strings.TrimSuffix(strings.Repeat("AB:", 32), ":")}})
	for i := range 4 { // the breaker opens after 3: its message too
		start := time.Now()
		resp, _ := cli(t, bin, "-e", c.frontend, "-t", "20000", "-r", "1", "-m", "vm.discover", "-V", "vc01.example.org")
		took := time.Since(start)
		if resp.Success != 1 || !strings.Contains(resp.Msg, "vc01.example.org") || !strings.Contains(resp.Msg, "connection refused") {
			t.Fatalf("request %d: success=%d msg %q; want the vCenter's name and \"connection refused\"", i+1, resp.Success, resp.Msg)
		}
		if took > 5*time.Second {
			t.Errorf("request %d took %v: a refused connection is known at once", i+1, took)
		}
		t.Logf("request %d (%v): %s", i+1, took.Round(time.Millisecond), resp.Msg)
	}
}

// A vCenter whose certificate no authority the worker trusts signed
// (govmomi's simulator over TLS, self-signed): the reply says so, gives
// the certificate's SHA-256 fingerprint ready to paste and the openssl
// command; pasting openssl's output line as the thumbprint in the
// vCenter's file then works.
func TestCLIUntrustedCertificateNamesTheThumbprint(t *testing.T) {
	bin := buildClient(t)
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	model.Service.TLS = new(tls.Config)
	sim := model.Service.NewServer()
	t.Cleanup(func() { sim.Close(); model.Remove() })
	fp := soap.ThumbprintSHA256(sim.Certificate())
	pass, _ := sim.URL.User.Password()
	host, port := sim.URL.Hostname(), sim.URL.Port()

	dir := t.TempDir()
	file := filepath.Join(dir, host+".conf")
	write := func(extra string) []vsphere.AgentConfig {
		t.Helper()
		body := fmt.Sprintf("hostname = %s\nport = %s\nusername = %s\npassword = %s\n%s",
			host, port, sim.URL.User.Username(), pass, extra)
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		agents, err := worker.LoadAgents(context.Background(), "", dir, quiet())
		if err != nil {
			t.Fatal(err)
		}
		return agents
	}

	c := startErrChain(t, write(""))
	resp, _ := cli(t, bin, "-e", c.frontend, "-t", "20000", "-r", "1", "-m", "about", "-V", host, "-p", "version")
	for _, want := range []string{
		"Cannot connect to vSphere agent " + host,
		"is self-signed",
		"To fix: pin the certificate in the vCenter's file in vsphere.d: thumbprint = " + fp + " (the SHA-256 fingerprint of the certificate presented",
		fmt.Sprintf("openssl s_client -connect %s:%s </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256", host, port),
		"or give the CA that signs it: ca_file = /path/to/ca.pem",
		"x509: certificate signed by unknown authority",
	} {
		if resp.Success != 1 || !strings.Contains(resp.Msg, want) {
			t.Errorf("reply %q\nlacks %q", resp.Msg, want)
		}
	}

	// openssl 3 prints "sha256 Fingerprint=AB:CD:..."; pasted as is.
	c = startErrChain(t, write("thumbprint = sha256 Fingerprint="+fp+"\n"))
	resp, _ = cli(t, bin, "-e", c.frontend, "-t", "20000", "-r", "1", "-m", "about", "-V", host, "-p", "version")
	if resp.Failed() {
		t.Fatalf("with the pasted thumbprint: %q", resp.Msg)
	}
}

// A vCenter that goes down after the worker connected (its mirror
// synced): requests are answered at once with the vCenter's name and
// the refusal, not after the request's timeout.
func TestCLIVCenterGoesDown(t *testing.T) {
	bin := buildClient(t)
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	model.Service.TLS = new(tls.Config)
	sim := model.Service.NewServer()
	t.Cleanup(func() { sim.Close(); model.Remove() })
	pass, _ := sim.URL.User.Password()
	c := startErrChain(t, []vsphere.AgentConfig{{Name: "vc01.example.org", Host: sim.URL.Hostname(), Port: mustPort(t, sim.URL),
		Username: sim.URL.User.Username(), Password: pass, Thumbprint: soap.ThumbprintSHA256(sim.Certificate())}})
	args := []string{"-e", c.frontend, "-t", "20000", "-r", "1", "-m", "vm.get", "-V", "vc01.example.org", "-n", "DC0_H0_VM0", "-p", "runtime.powerState"}
	for range 3 {
		if resp, _ := cli(t, bin, args...); resp.Failed() {
			t.Fatalf("vCenter up: %q", resp.Msg)
		}
	}
	sim.CloseClientConnections() // the mirror's long poll: Close would wait for it
	sim.Close()
	for i := range 4 { // the breaker opens after 3: its message too
		start := time.Now()
		resp, _ := cli(t, bin, args...)
		took := time.Since(start)
		if !strings.Contains(resp.Msg, "vc01.example.org") || !strings.Contains(resp.Msg, "connection refused") {
			t.Errorf("request %d: msg %q; want the vCenter's name and \"connection refused\"", i+1, resp.Msg)
		}
		if took > 5*time.Second {
			t.Errorf("request %d took %v: a refused connection is known at once", i+1, took)
		}
		t.Logf("request %d (%v): %s", i+1, took.Round(time.Millisecond), resp.Msg)
	}
}
