package plugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/plugin/internal/standin"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// benchAgent is the agent's side of the plugin socket, in process: it
// speaks the real framing over a Unix socket and matches replies by id, as
// zabbix_agent2 does.
type benchAgent struct {
	conn    net.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	nextID  uint32
	waiting map[uint32]chan string
	done    chan error
}

// privateOptions builds the agent's configuration tree for Plugins.VPoller.*
// from name/value pairs of top-level options.
func privateOptions(kv ...string) string {
	var nodes []map[string]any
	for i := 0; i+1 < len(kv); i += 2 {
		v := base64.StdEncoding.EncodeToString([]byte(kv[i+1]))
		nodes = append(nodes, map[string]any{"Name": kv[i], "Nodes": []any{map[string]any{"Value": v, "Line": i/2 + 2}}, "Line": i/2 + 2})
	}
	b, _ := json.Marshal(map[string]any{"Name": Name, "Nodes": nodes, "Line": 1})
	return string(b)
}

func startBenchAgent(tb testing.TB, p *VPoller, options ...string) *benchAgent {
	tb.Helper()
	sock := filepath.Join(tb.TempDir(), "plugin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	serveDone := make(chan error, 1)
	go func() {
		c, err := net.Dial("unix", sock)
		if err != nil {
			serveDone <- err
			return
		}
		serveDone <- agent2.Serve(c, p.Plugin("bench"))
		c.Close()
	}()
	conn, err := l.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	a := &benchAgent{conn: conn, nextID: 10, waiting: map[uint32]chan string{}, done: serveDone}
	go a.read()
	a.write(`{"id":1,"type":8,"global_options":{"Timeout":3,"SourceIP":""},"private_options":` + privateOptions(options...) + `}`)
	a.write(`{"id":2,"type":4}`)
	tb.Cleanup(func() {
		a.write(`{"id":3,"type":5}`)
		<-a.done
		conn.Close()
	})
	return a
}

func (a *benchAgent) write(body string) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	_ = agent2.WriteFrame(a.conn, []byte(body))
}

func (a *benchAgent) read() {
	for {
		b, err := agent2.ReadFrame(a.conn)
		if err != nil {
			return
		}
		var r struct {
			ID    uint32 `json:"id"`
			Type  uint32 `json:"type"`
			Value string `json:"value"`
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &r) != nil || r.Type != agent2.TypeExportResponse {
			continue
		}
		a.mu.Lock()
		ch := a.waiting[r.ID]
		delete(a.waiting, r.ID)
		a.mu.Unlock()
		if ch != nil {
			if r.Error != "" {
				ch <- "ERROR: " + r.Error
			} else {
				ch <- r.Value
			}
		}
	}
}

// export sends one Export like a 7.0 agent and waits for its reply.
func (a *benchAgent) export(key string, params ...string) string {
	ch := make(chan string, 1)
	a.mu.Lock()
	a.nextID++
	id := a.nextID
	a.waiting[id] = ch
	a.mu.Unlock()
	p, _ := json.Marshal(params)
	a.write(fmt.Sprintf(`{"id":%d,"type":6,"key":%q,"parameters":%s,"timeout":10}`, id, key, p))
	return <-ch
}

func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// BenchmarkPollOverhead measures, in one run, a vpoller.poll through the
// plugin protocol (agent side in process, Unix socket, real framing) and
// the same request sent with vpoller/client directly, against the same
// vPoller stand-in; it reports both latencies' p50/p99 and what the plugin
// adds. Target: under 1 ms at p50.
func BenchmarkPollOverhead(b *testing.B) {
	s, err := standin.Start(standin.Inventory)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := New()
	a := startBenchAgent(b, p, "Endpoint", s.Endpoint)
	direct := clienttest.New(b, s.Endpoint, client.Options{Timeout: 5 * time.Second, Retries: 1})
	req := &vpoller.Request{Method: "vm.get", Hostname: "vcsim.local", Name: "DC0_H0_VM0", Properties: []string{"runtime.powerState"}}
	ctx := context.Background()
	// warm up both paths (connections, pools)
	for range 20 {
		a.export("vpoller.poll", "vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState")
		_, _ = direct.Call(ctx, req)
	}
	var viaPlugin, viaClient []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if v := a.export("vpoller.poll", "vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState"); v != "poweredOn" {
			b.Fatalf("plugin: %q", v)
		}
		t1 := time.Now()
		resp, err := direct.Call(ctx, req)
		if err != nil || resp.Failed() {
			b.Fatalf("client: %v", err)
		}
		t2 := time.Now()
		viaPlugin = append(viaPlugin, t1.Sub(t0))
		viaClient = append(viaClient, t2.Sub(t1))
	}
	b.StopTimer()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	pp50, pp99 := percentile(viaPlugin, 0.50), percentile(viaPlugin, 0.99)
	cp50, cp99 := percentile(viaClient, 0.50), percentile(viaClient, 0.99)
	b.ReportMetric(us(pp50), "plugin-p50-µs")
	b.ReportMetric(us(pp99), "plugin-p99-µs")
	b.ReportMetric(us(cp50), "client-p50-µs")
	b.ReportMetric(us(cp99), "client-p99-µs")
	b.ReportMetric(us(pp50-cp50), "added-p50-µs")
	b.ReportMetric(float64(pp50)/float64(cp50), "ratio-p50")
}

// BenchmarkPollThroughput100 keeps 100 Exports in flight (different
// objects, so nothing is coalesced) and reports completed Exports per
// second through the plugin protocol.
func BenchmarkPollThroughput100(b *testing.B) {
	s, err := standin.Start(standin.Inventory)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := New()
	a := startBenchAgent(b, p, "Endpoint", s.Endpoint, "PoolSize", "100")
	props := []string{"runtime.powerState", "summary.config.numCpu", "summary.config.memorySizeMB", "config.template", "name"}
	b.ResetTimer()
	start := time.Now()
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	var failed sync.Once
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			vm := standin.SimVMs[i%len(standin.SimVMs)]
			if v := a.export("vpoller.poll", "vm.get", "vcsim.local", vm, props[(i/len(standin.SimVMs))%len(props)]); len(v) >= 6 && v[:6] == "ERROR:" {
				failed.Do(func() { b.Errorf("export: %s", v) })
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "exports/s")
}
