//go:build faults

package faults

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// 11. The frontend speaks CURVE with an allow-list (keys from the
// binaries' keygen commands). A client whose key is in the list is
// served; a client with another key, and a client without CURVE, are
// refused at the handshake, logged and counted; the proxy serves on.
func Test11CurveUnknownKey(t *testing.T) {
	s := newScenario(t, "11", "CURVE frontend: a client key not in the allow-list")
	keys := s.path("curve")
	allow := s.path("curve/clients.d")
	s.must(os.MkdirAll(allow, 0o700), "allow-list directory")
	for _, k := range []struct{ bin, name string }{
		{bins.proxy, keys + "/proxy"}, {bins.client, allow + "/good"}, {bins.client, keys + "/stranger"},
	} {
		if out, code, err := runCmd(10*time.Second, k.bin, "keygen", k.name); err != nil || code != 0 {
			s.fatalf("%s keygen %s: exit %d %v: %s", k.bin, k.name, code, err, out)
		}
	}
	// The allow-list holds public certificates only.
	s.must(os.Rename(allow+"/good.key_secret", keys+"/good.key_secret"), "move the secret out of the allow-list")

	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{extra: []string{
		"frontend_curve_secret_key = " + keys + "/proxy.key_secret", "frontend_curve_allow = " + allow}})
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	if ok, _ := px.waitWorkers(1, 10*time.Second); !ok {
		s.fatalf("the proxy does not see the worker")
	}
	before := px.mustProxyStatus()
	ask := func(secret string) (string, int) {
		args := []string{"-e", px.front, "-t", "3000", "-r", "1", "-m", "vm.get", "-V", vc.name, "-n", "DC0_H0_VM0", "-p", "runtime.powerState"}
		if secret != "" {
			args = append(args, "--curve-server-key", keys+"/proxy.key", "--curve-secret-key", secret)
		}
		out, code, err := runCmd(15*time.Second, bins.client, args...)
		if err != nil {
			return out + err.Error(), -1
		}
		return strings.TrimSpace(out), code
	}
	goodOut, goodCode := ask(keys + "/good.key_secret")
	strangerOut, strangerCode := ask(keys + "/stranger.key_secret")
	nullOut, nullCode := ask("")
	againOut, againCode := ask(keys + "/good.key_secret")
	time.Sleep(200 * time.Millisecond)
	after := px.mustProxyStatus()
	logged := strings.Contains(px.output(), "authentication failed")

	served := 0
	for _, o := range []string{goodOut, againOut} {
		if strings.Contains(o, "poweredOn") {
			served++
		}
	}
	c := counts{Sent: 4, Answered: served, Errored: 4 - served}
	var ck checks
	ck.add(goodCode == 0 && againCode == 0 && served == 2, "the allowed key is served (before and after the refusals)", "exit %d/%d, %d of 2 poweredOn", goodCode, againCode, served)
	ck.add(strangerCode == 1 && !strings.Contains(strangerOut, "poweredOn"), "a key not in the allow-list is refused (vpoller-client exits 1)", "exit %d: %s", strangerCode, tail(strangerOut, 160))
	ck.add(after.Frontend.AuthFailed-before.Frontend.AuthFailed >= 1 && logged, "refusal logged and counted (auth_failed)",
		"auth_failed %d -> %d, logged %v", before.Frontend.AuthFailed, after.Frontend.AuthFailed, logged)
	ck.add(nullCode != 0 || !strings.Contains(nullOut, "poweredOn"), "a client without CURVE is not served", "exit %d: %s", nullCode, tail(nullOut, 120))
	s.record(&row{Requests: &c, Recovery: -1, RSS: fmt.Sprintf("proxy %s", mb(px.hwm())), Checks: ck})
}
