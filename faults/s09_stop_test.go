//go:build faults

package faults

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stopCmd runs `<daemon> -f CONF [-e MGMT] stop` and returns its output
// and exit status.
func stopCmd(d *daemon, conf string, withE bool) (string, int) {
	args := []string{"-f", conf}
	if withE {
		args = append(args, "-e", d.mgmt)
	}
	out, code, err := runCmd(15*time.Second, d.bin, append(args, "stop")...)
	if err != nil {
		return out + err.Error(), -1
	}
	return strings.TrimSpace(out), code
}

// 9a. stop without credentials is refused and the daemons keep running:
// over tcp without authentication ("Shutdown refused", exit 1), and over
// tcp with a shared secret by a client with a wrong secret.
func Test09aStopRefused(t *testing.T) {
	s := newScenario(t, "9a", "stop without credentials refused (proxy and worker)")
	pxOpen := s.startProxy("proxy-noauth", proxySpec{noSecret: true})
	wOpen := s.startWorker("worker-noauth", workerSpec{proxy: pxOpen.back, noSecret: true})
	pxSec := s.startProxy("proxy-secret", proxySpec{})
	wSec := s.startWorker("worker-secret", workerSpec{proxy: pxSec.back})
	wrong := s.writeFile("wrong.secret", "not-the-secret-at-all-but-long-enough\n", 0o600)
	wrongProxy := s.writeFile("wrong-proxy.conf", "[proxy]\nmgmt = "+pxSec.mgmt+"\nmgmt_secret_file = "+wrong+"\n", 0o600)
	wrongWorker := s.writeFile("wrong-worker.conf", "[worker]\nmgmt = "+wSec.mgmt+"\nmgmt_secret_file = "+wrong+"\n", 0o600)

	var ck checks
	for _, tc := range []struct {
		d      *daemon
		conf   string
		how    string
		expect string
	}{
		{pxOpen, pxOpen.conf, "proxy, tcp without authentication", "Shutdown refused"},
		{wOpen, wOpen.conf, "worker, tcp without authentication", "Shutdown refused"},
		{pxSec, wrongProxy, "proxy, tcp with a wrong secret", "authentication failed"},
		{wSec, wrongWorker, "worker, tcp with a wrong secret", "authentication failed"},
	} {
		out, code := stopCmd(tc.d, tc.conf, false)
		time.Sleep(300 * time.Millisecond)
		_, serr := tc.d.statusRaw(3 * time.Second)
		ck.add(code == 1 && strings.Contains(strings.ToLower(out), strings.ToLower(tc.expect)) && tc.d.alive() && serr == nil,
			fmt.Sprintf("%s: stop exits 1 (%q), the daemon runs on and answers status", tc.how, tc.expect),
			"exit %d, alive %v, status err %v: %s", code, tc.d.alive(), serr, tail(out, 160))
	}
	s.record(&row{Recovery: -1, RSS: "proxy " + mb(pxOpen.hwm()), Checks: ck})
}

// 9b. stop with credentials works: over the ipc socket (file mode 0600)
// and over tcp with the shared secret; each daemon exits 0.
func Test09bStopAuthorised(t *testing.T) {
	s := newScenario(t, "9b", "stop over ipc and over tcp with the secret (proxy and worker)")
	pxIPC := s.startProxy("proxy-ipc", proxySpec{mgmt: "ipc://" + filepath.Join(s.dir, "run", "proxy.sock"), noSecret: true})
	wIPC := s.startWorker("worker-ipc", workerSpec{proxy: pxIPC.back, mgmt: "ipc://" + filepath.Join(s.dir, "run", "worker.sock"), noSecret: true})
	pxSec := s.startProxy("proxy-secret", proxySpec{})
	wSec := s.startWorker("worker-secret", workerSpec{proxy: pxSec.back})

	// Both command lines: the configuration's endpoint, and -e naming it
	// (the configuration's secret applies to both).
	var ck checks
	for _, tc := range []struct {
		d     *daemon
		how   string
		withE bool
	}{
		{wIPC, "worker over ipc (-f)", false}, {pxIPC, "proxy over ipc (-f -e)", true},
		{wSec, "worker over tcp with the secret (-f -e)", true}, {pxSec, "proxy over tcp with the secret (-f)", false},
	} {
		start := time.Now()
		out, code := stopCmd(tc.d, tc.d.conf, tc.withE)
		if code == 0 {
			tc.d.expected.Store(true)
		}
		exited := code == 0 && tc.d.wait(15*time.Second)
		ck.add(code == 0 && strings.Contains(out, "Shutdown time has arrived") && exited && tc.d.exitCode() == 0,
			fmt.Sprintf("%s: stop exits 0 and the daemon exits 0", tc.how),
			"stop exit %d, daemon exit %d after %s: %s", code, tc.d.exitCode(), dur(time.Since(start)), tail(out, 120))
	}
	s.record(&row{Recovery: -1, RSS: "-", Checks: ck})
}
