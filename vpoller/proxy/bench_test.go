package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// BenchmarkRoundTrip measures one request/reply through the proxy and the
// same exchange with the client talking straight to a worker (a zmq4 REP
// socket), in the same run, and reports the ratio.
func BenchmarkRoundTrip(b *testing.B) {
	payload := []byte(`{"method": "vm.get", "hostname": "vc01", "name": "vm-001", "properties": ["runtime.powerState"]}`)

	direct := zmq4.NewRep(context.Background())
	if err := direct.Listen("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	go func() {
		for {
			m, err := direct.Recv()
			if err != nil {
				return
			}
			if direct.Send(zmq4.NewMsg(append([]byte("w:"), m.Frames[0]...))) != nil {
				return
			}
		}
	}()
	directReq := reqSocket(b, "tcp://"+direct.Addr().String())

	p := startProxy(b)
	startWorker(b, p, "w")
	proxyReq := reqSocket(b, p.Addrs().Frontend)

	var viaDirect, viaProxy time.Duration
	for b.Loop() {
		t0 := time.Now()
		if got := roundTrip(b, directReq, payload); len(got[0]) != len(payload)+2 {
			b.Fatalf("direct reply %q", got)
		}
		t1 := time.Now()
		if got := roundTrip(b, proxyReq, payload); len(got[0]) != len(payload)+2 {
			b.Fatalf("proxy reply %q", got)
		}
		viaDirect += t1.Sub(t0)
		viaProxy += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(viaDirect.Nanoseconds())/n, "direct-ns/req")
	b.ReportMetric(float64(viaProxy.Nanoseconds())/n, "proxy-ns/req")
	b.ReportMetric(float64(viaProxy)/float64(viaDirect), "proxy/direct")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkThroughput: many concurrent clients (the Go client's REQ pool)
// through the proxy to three workers.
func BenchmarkThroughput(b *testing.B) {
	p := startProxy(b)
	for _, name := range []string{"w1", "w2", "w3"} {
		startWorker(b, p, name)
	}
	c := clienttest.New(b, p.Addrs().Frontend, client.Options{PoolSize: 32, Timeout: 10 * time.Second, Retries: 1})
	payload := []byte(`{"method": "about", "hostname": "vc01"}`)
	b.SetParallelism(16)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Do(context.Background(), payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
