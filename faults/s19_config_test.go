//go:build faults

package faults

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

// refusal is one program run that must be refused at start-up: it must
// exit, non-zero, within 15 s (a daemon that starts runs on and is
// killed: exit -1), naming in its output what the operator must fix.
type refusal struct {
	name string
	bin  string
	args []string
	want []string // every one must appear in the output
}

// run runs the program and returns its check.
func (r refusal) run() check {
	out, code, err := runCmd(15*time.Second, r.bin, r.args...)
	var missing []string
	for _, w := range r.want {
		if !strings.Contains(out, w) {
			missing = append(missing, fmt.Sprintf("%q", w))
		}
	}
	ok := err == nil && code > 0 && len(missing) == 0 && panicRE.FindString(out) == ""
	got := fmt.Sprintf("exit %d: %s", code, tail(strings.TrimSpace(lastLine(out)), 300))
	if err != nil {
		got = fmt.Sprintf("exit %d (%v): %s", code, err, tail(strings.TrimSpace(out), 300))
	}
	if len(missing) > 0 {
		got += "; missing " + strings.Join(missing, ", ")
	}
	var c checks
	c.add(ok, r.name+": refused at start-up, exit non-zero, the message names "+strings.Join(r.want, ", "), "%s", got)
	return c[0]
}

// lastLine is the last non-empty line of out (where a daemon that
// refuses to start says why, after its start-up log).
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// 19-7. A typo in vpoller.conf: frontend_curve_secret_kye in [proxy]
// (and proxy_curve_secret_kye in [worker]). The previous release ignored
// unknown keys: the proxy started with a frontend without CURVE, the
// worker without its key. Now the daemon refuses to start and names the
// key, its line and the key it probably meant; with the key spelled
// right the same file starts (so the refusal is the typo's).
func Test19_7ConfigTypo(t *testing.T) {
	s := newScenario(t, "19-7", "a typo in vpoller.conf: frontend_curve_secret_kye (and proxy_curve_secret_kye)")
	keys := s.path("curve")
	s.keygen(bins.proxy, keys+"/proxy", keys+"/clients.d/good")
	s.keygen(bins.worker, keys+"/worker")
	s.must(os.Rename(keys+"/clients.d/good.key_secret", keys+"/good.key_secret"), "move the secret out of the allow-list")
	cases := []struct {
		daemon, typo, right, value string
		lines                      func(d *daemon) []string // the file's lines before the typo
	}{
		{"proxy", "frontend_curve_secret_kye", "frontend_curve_secret_key", keys + "/proxy.key_secret", func(d *daemon) []string {
			return []string{"[proxy]", "frontend = " + d.front, "backend = " + d.back, "mgmt = " + d.mgmt,
				"mgmt_secret_file = " + s.secretFile(), "frontend_curve_allow = " + keys + "/clients.d"}
		}},
		{"worker", "proxy_curve_secret_kye", "proxy_curve_secret_key", keys + "/worker.key_secret", func(d *daemon) []string {
			s.must(os.MkdirAll(s.path("vsphere.d"), 0o700), "vsphere.d")
			return []string{"[worker]", "proxy = " + tcpEP(s.freePort()), "mgmt = " + d.mgmt, "mgmt_secret_file = " + s.secretFile(),
				"vsphere_hosts_dir = vsphere.d", "proxy_curve_server_key = " + keys + "/proxy.key"}
		}},
	}
	var ck checks
	for _, tc := range cases {
		d := &daemon{s: s, kind: tc.daemon, bin: map[string]string{"proxy": bins.proxy, "worker": bins.worker}[tc.daemon],
			front: tcpEP(s.freePort()), back: tcpEP(s.freePort())}
		s.setupMgmt(d, "", false)
		lines := tc.lines(d)
		typoLine := len(lines) + 1
		bad := s.writeFile(tc.daemon+"-typo.conf", strings.Join(append(lines, tc.typo+" = "+tc.value), "\n")+"\n", 0o600)
		ck = append(ck, refusal{name: fmt.Sprintf("%s with %s at line %d", tc.daemon, tc.typo, typoLine), bin: d.bin,
			args: []string{"-f", bad, "start"},
			want: []string{tc.typo, fmt.Sprintf("line %d", typoLine), "did you mean " + tc.right}}.run())
		// The same file with the key spelled right starts.
		s.launch(d, tc.daemon+"-right", append(lines, tc.right+" = "+tc.value), false)
		d.waitUp()
		// status "security": the proxy's frontend, the worker's link to
		// its proxy.
		var st struct {
			Security map[string]string `json:"security"`
		}
		err := d.status(&st)
		security := st.Security[map[string]string{"proxy": "frontend", "worker": "proxy"}[tc.daemon]]
		ck.add(err == nil && strings.Contains(security, "CURVE"), fmt.Sprintf("%s with %s spelled right starts with CURVE", tc.daemon, tc.right),
			"status: %v, security %s", err, tail(security, 80))
		d.terminate(10 * time.Second)
	}
	s.record(&row{Recovery: -1, RSS: "-", Checks: ck})
}

// 19-8. Weak CURVE keys. An all-zero server public key and a point of
// small order, given to the worker (proxy_curve_server_key) and to the
// client (--curve-server-key), and in the proxy's allow-list, are
// refused at load with a message that says so: a Diffie-Hellman with
// such a key gives the all-zero secret whatever the other side's key,
// so whoever knows it reads the session. And in the handshake: a
// scripted client offers the proxy's CURVE frontend and backend a HELLO
// whose transient key is of small order, its box sealed with the
// all-zero secret's key (a server that does not refuse the key opens it
// and answers WELCOME): refused with ERROR 400, logged and counted in
// auth_failed.
func Test19_8WeakCurveKeys(t *testing.T) {
	s := newScenario(t, "19-8", "weak CURVE keys: all-zero and small-order server keys at load, a small-order HELLO")
	keys := s.path("curve")
	s.keygen(bins.proxy, keys+"/proxy", keys+"/clients.d/good")
	s.keygen(bins.worker, keys+"/worker")
	s.must(os.Rename(keys+"/clients.d/good.key_secret", keys+"/good.key_secret"), "move the secret out of the allow-list")
	s.must(os.MkdirAll(s.path("vsphere.d"), 0o700), "vsphere.d")
	weak := []struct {
		name string
		key  curvekey.Key
		want string
	}{{"all-zero", zeroKey, "all zeros"}, {"small-order", lowOrderKey, "small order"}}

	var ck checks
	for _, w := range weak {
		z85 := w.key.String()
		workerConf := s.writeFile("worker-"+w.name+".conf", strings.Join([]string{"[worker]", "proxy = " + tcpEP(s.freePort()),
			"mgmt = " + tcpEP(s.freePort()), "mgmt_secret_file = " + s.secretFile(), "vsphere_hosts_dir = vsphere.d",
			"proxy_curve_server_key = " + z85, "proxy_curve_secret_key = " + keys + "/worker.key_secret"}, "\n")+"\n", 0o600)
		proxyConf := s.writeFile("proxy-"+w.name+".conf", strings.Join([]string{"[proxy]", "frontend = " + tcpEP(s.freePort()),
			"backend = " + tcpEP(s.freePort()), "mgmt = " + tcpEP(s.freePort()), "mgmt_secret_file = " + s.secretFile(),
			"frontend_curve_secret_key = " + keys + "/proxy.key_secret", "frontend_curve_allow = " + z85}, "\n")+"\n", 0o600)
		for _, r := range []refusal{
			{name: "worker, " + w.name + " proxy_curve_server_key", bin: bins.worker, args: []string{"-f", workerConf, "start"},
				want: []string{"proxy_curve_server_key", z85, w.want}},
			{name: "vpoller-client, " + w.name + " --curve-server-key", bin: bins.client,
				args: []string{"-e", tcpEP(s.freePort()), "-m", "about", "-V", "vc", "-r", "1", "-t", "2000",
					"--curve-server-key", z85, "--curve-secret-key", keys + "/good.key_secret"},
				want: []string{z85, w.want}},
			{name: "proxy, " + w.name + " key in frontend_curve_allow", bin: bins.proxy, args: []string{"-f", proxyConf, "start"},
				want: []string{"frontend", z85, w.want}},
		} {
			ck = append(ck, r.run())
		}
	}

	// The handshake: a small-order transient key in HELLO.
	px := s.startProxy("proxy", proxySpec{extra: []string{
		"frontend_curve_secret_key = " + keys + "/proxy.key_secret", "frontend_curve_allow = " + keys + "/clients.d",
		"backend_curve_secret_key = " + keys + "/proxy.key_secret", "backend_curve_allow = " + keys + "/worker.key"}})
	before := px.mustProxyStatus()
	sawFront, errFront := helloWithLowOrderKey(loopbackSource(0), hostPort(px.front))
	sawBack, errBack := helloWithLowOrderKey(loopbackSource(0), hostPort(px.back))
	counted, _ := until(10*time.Second, 20*time.Millisecond, func() bool {
		st, err := px.proxyStatus()
		return err == nil && st.Frontend.AuthFailed > before.Frontend.AuthFailed && st.Backend.AuthFailed > before.Backend.AuthFailed
	})
	after := px.mustProxyStatus()
	logged := 0
	for _, line := range strings.Split(px.output(), "\n") {
		if strings.Contains(line, "authentication failed") && strings.Contains(line, "small order") && strings.Contains(line, lowOrderKey.String()) {
			logged++
		}
	}
	refused := func(saw string) bool { return strings.HasPrefix(saw, "ERROR") || strings.HasPrefix(saw, "closed") }
	ck.add(errFront == nil && errBack == nil && refused(sawFront) && refused(sawBack),
		"a HELLO with a small-order transient key (box sealed for the all-zero secret) is refused by the frontend and the backend, no WELCOME",
		"frontend: %s %v; backend: %s %v", sawFront, errFront, sawBack, errBack)
	ck.add(counted && logged >= 2, "refusals counted (auth_failed) and logged naming the key as of small order",
		"frontend auth_failed %d -> %d, backend %d -> %d; %d log lines", before.Frontend.AuthFailed, after.Frontend.AuthFailed,
		before.Backend.AuthFailed, after.Backend.AuthFailed, logged)
	s.record(&row{Recovery: -1, RSS: "proxy " + mb(px.hwm()), Checks: ck})
}
