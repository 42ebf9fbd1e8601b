//go:build faults

package faults

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// 11. Both proxy sockets speak CURVE with allow-lists (keys from the
// binaries' keygen commands). A client whose key is in the list is
// served; a client with another key, and a client without CURVE, are
// refused at the handshake, logged and counted. A worker whose key is
// not in the backend's list (a rogue worker) is refused and gets no
// request. The proxy serves on.
func Test11CurveUnknownKey(t *testing.T) {
	s := newScenario(t, "11", "CURVE: a client key and a worker key not in the allow-lists")
	keys := s.path("curve")
	clients, workers := s.path("curve/clients.d"), s.path("curve/workers.d")
	s.must(os.MkdirAll(clients, 0o700), "allow-list directory")
	s.must(os.MkdirAll(workers, 0o700), "allow-list directory")
	for _, k := range []struct{ bin, name string }{
		{bins.proxy, keys + "/proxy"}, {bins.client, clients + "/good"}, {bins.client, keys + "/stranger"},
		{bins.worker, workers + "/worker"}, {bins.worker, keys + "/rogue"},
	} {
		if out, code, err := runCmd(10*time.Second, k.bin, "keygen", k.name); err != nil || code != 0 {
			s.fatalf("%s keygen %s: exit %d %v: %s", k.bin, k.name, code, err, out)
		}
	}
	// The allow-lists hold public certificates only.
	s.must(os.Rename(clients+"/good.key_secret", keys+"/good.key_secret"), "move the secret out of the allow-list")
	s.must(os.Rename(workers+"/worker.key_secret", keys+"/worker.key_secret"), "move the secret out of the allow-list")

	vc := s.startVcenter("127.0.0.1")
	secret := keys + "/proxy.key_secret"
	px := s.startProxy("proxy", proxySpec{extra: []string{
		"frontend_curve_secret_key = " + secret, "frontend_curve_allow = " + clients,
		"backend_curve_secret_key = " + secret, "backend_curve_allow = " + workers}})
	curveWorker := func(name, key string) []string {
		return []string{"proxy_curve_server_key = " + keys + "/proxy.key", "proxy_curve_secret_key = " + keys + "/" + key + ".key_secret"}
	}
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}, extra: curveWorker("worker", "worker")})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	rogue := s.startWorker("rogue-worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}, extra: curveWorker("rogue", "rogue")})
	rogueRefused, _ := until(10*time.Second, 50*time.Millisecond, func() bool {
		st, err := px.proxyStatus()
		return err == nil && st.Backend.AuthFailed > 0
	})
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
	rst, rerr := rogue.workerStatus()
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
	ck.add(rogueRefused && after.Workers == 1 && rerr == nil && !rst.Connected && rst.Requests == 0,
		"a worker key not in the backend's allow-list is refused (auth_failed) and gets no request",
		"backend auth_failed %d, workers %d, rogue connected %v, rogue requests %d, err %v",
		after.Backend.AuthFailed, after.Workers, rst.Connected, rst.Requests, rerr)
	s.record(&row{Requests: &c, Recovery: -1, RSS: fmt.Sprintf("proxy %s", mb(px.hwm())), Checks: ck})
}
