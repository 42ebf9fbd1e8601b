package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const vc = "vcsim.local"

// TestAgents runs the acceptance checks under every agent generation.
func TestAgents(t *testing.T) {
	t.Parallel()
	for _, bin := range agentBins(t) {
		t.Run(bin.name, func(t *testing.T) {
			t.Parallel() // each agent generation its own agent (and, in TestAgents, chain)
			ch := startDaemons(t, nil)
			a := startAgent(t, bin, ch.endpoint, ch.mgmtConf...)
			vms := simulatorVMs(t)

			t.Run("discover", func(t *testing.T) {
				v, err := passive(a.addr, "vpoller.discover[vm.discover,"+vc+"]", 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				var lld struct {
					Data []map[string]any `json:"data"`
				}
				if err := json.Unmarshal([]byte(v), &lld); err != nil {
					t.Fatalf("not LLD JSON: %v: %s", err, v)
				}
				var names []string
				for _, e := range lld.Data {
					n, _ := e["{#VSPHERE.VM.NAME}"].(string)
					names = append(names, n)
				}
				slices.Sort(names)
				want := slices.Clone(vms)
				slices.Sort(want)
				if !slices.Equal(names, want) {
					t.Fatalf("discovered %q, want %q", names, want)
				}
			})

			t.Run("poll", func(t *testing.T) {
				key := fmt.Sprintf("vpoller.poll[vm.get,%s,%s,runtime.powerState]", vc, vms[0])
				if v, err := passive(a.addr, key, 10*time.Second); err != nil || v != "poweredOn" {
					t.Fatalf("passive %s = %q, %v; want poweredOn", key, v, err)
				}
				if v, err := testKey(t, a, key); err != nil || v != "poweredOn" {
					t.Fatalf("-t %s = %q, %v; want poweredOn", key, v, err)
				}
			})

			t.Run("status", func(t *testing.T) {
				v, err := passive(a.addr, "vpoller.status[proxy,Proxy]", 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				var st map[string]any
				if err := json.Unmarshal([]byte(v), &st); err != nil {
					t.Fatalf("not JSON: %v: %s", err, v)
				}
				if st["status"] != "running" || st["workers"] != float64(1) {
					t.Fatalf("proxy status through the agent: %s", v)
				}
				if _, err := passive(a.addr, "vpoller.status[worker,Proxy]", 10*time.Second); err == nil {
					t.Fatal("the proxy's socket passed for a worker's")
				}
			})

			t.Run("perf newest sample", func(t *testing.T) {
				key := fmt.Sprintf("vpoller.poll[vm.perf.metric.get,%s,%s,,,,,cpu.usage.percent.average]", vc, vms[0])
				v, err := passive(a.addr, key, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					t.Fatalf("%s = %q: not a plain number", key, v)
				}
			})

			t.Run("get three properties", func(t *testing.T) {
				props := []string{"runtime.powerState", "summary.config.numCpu", "summary.config.memorySizeMB"}
				key := fmt.Sprintf(`vpoller.get[vm.get,%s,%s,"%s"]`, vc, vms[1], strings.Join(props, ","))
				v, err := passive(a.addr, key, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				var res []map[string]any
				if err := json.Unmarshal([]byte(v), &res); err != nil || len(res) != 1 {
					t.Fatalf("result %s: %v", v, err)
				}
				for _, p := range props {
					if _, ok := res[0][p]; !ok {
						t.Errorf("property %s missing from %s", p, v)
					}
				}
				if res[0]["runtime.powerState"] != "poweredOn" || res[0]["summary.config.numCpu"] == nil {
					t.Errorf("values: %s", v)
				}
			})

			t.Run("unknown VM", func(t *testing.T) {
				key := fmt.Sprintf("vpoller.poll[vm.get,%s,no-such-vm,runtime.powerState]", vc)
				for _, via := range []string{"passive", "-t"} {
					var err error
					if via == "passive" {
						_, err = passive(a.addr, key, 10*time.Second)
					} else {
						_, err = testKey(t, a, key)
					}
					var ns *errNotSupported
					if !errors.As(err, &ns) || !strings.HasPrefix(ns.msg, "Cannot find object no-such-vm") {
						t.Fatalf("%s: %v; want NOT SUPPORTED with Cannot find object", via, err)
					}
				}
			})

			t.Run("misuse", func(t *testing.T) {
				_, err := passive(a.addr, "vpoller.poll[vm.discover,"+vc+"]", 10*time.Second)
				var ns *errNotSupported
				if !errors.As(err, &ns) || !strings.Contains(strings.ToLower(ns.msg), "vm.discover is a discovery method") {
					t.Fatalf("%v", err)
				}
			})

			t.Run("50 concurrent", func(t *testing.T) {
				var wg sync.WaitGroup
				errs := make(chan error, 50)
				for i := range 50 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						vm := vms[i%len(vms)]
						key := fmt.Sprintf("vpoller.poll[vm.get,%s,%s,runtime.powerState]", vc, vm)
						want := "poweredOn"
						if i%5 == 4 {
							key = fmt.Sprintf("vpoller.poll[vm.get,%s,%s,summary.config.numCpu]", vc, vm)
							want = "1"
						}
						v, err := passive(a.addr, key, 15*time.Second)
						if err != nil || v != want {
							errs <- fmt.Errorf("%s = %q, %v; want %q", key, v, err, want)
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			})

			t.Run("proxy stopped", func(t *testing.T) {
				ch.stopProxy()
				key := fmt.Sprintf("vpoller.poll[vm.get,%s,%s,name]", vc, vms[2])
				start := time.Now()
				var err error
				limit := 3 * time.Second // 6.0: the agent's Timeout
				if bin.name == "6.0" {
					_, err = passive(a.addr, key, 10*time.Second)
				} else {
					limit = 4 * time.Second // 7.0: the item timeout we ask for
					_, err = passiveJSON(a.addr, key, limit, 10*time.Second)
				}
				took := time.Since(start)
				var ns *errNotSupported
				// The proxy is down: the item says so, and where (7.0
				// capitalises the first letter).
				if want := "Poller proxy " + ch.endpoint + ": connection refused (kept trying for "; !errors.As(err, &ns) || !strings.Contains(ns.msg, want) {
					t.Fatalf("%v (after %v); want our message with %q", err, took, want)
				}
				if took >= limit {
					t.Fatalf("answered after %v, not before the agent's %v", took, limit)
				}
				if v, err := passive(a.addr, "agent.ping", 5*time.Second); err != nil || v != "1" || !a.running() {
					t.Fatalf("agent.ping after the failure: %q %v; agent log:\n%s", v, err, a.logTail())
				}
			})
		})
	}
}

// TestBrokenConfigStopsAgent: a configuration error is reported by
// Validate at start-up, naming the option and its line, and the agent
// refuses to start (the right outcome: a silently ignored option would
// poll the wrong vPoller).
func TestBrokenConfigStopsAgent(t *testing.T) {
	t.Parallel()
	for _, bin := range agentBins(t) {
		t.Run(bin.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := writeConf(t, dir, agentPort(t), "tcp://127.0.0.1:1", "Plugins.VPoller.Timeout=soon")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var out []byte
			var err error
			for try := 0; try < 5; try++ { // the 6.0.14 start-up bug again
				out, err = exec.CommandContext(ctx, bin.path, "-c", conf, "-t", "agent.ping").CombinedOutput()
				if strings.Contains(string(out), "Plugins.VPoller.Timeout") {
					break
				}
			}
			want := `Plugins.VPoller.Timeout (line 14): "soon" is not a whole number from 1 to 600`
			if err == nil || !strings.Contains(string(out), want) {
				t.Fatalf("agent -t with a broken config: %v\n%s\nwant a failure mentioning %q", err, out, want)
			}
		})
	}
}
