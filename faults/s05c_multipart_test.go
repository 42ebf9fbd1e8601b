//go:build faults

package faults

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 5c. One message of 6 frames of 60 MB each to the frontend, sent as
// fast as loopback allows (what took the proxy to 1.44 GB): the message
// cap throws it away as it comes; the proxy's peak RSS stays far below
// 300 MB and it serves on.
func Test05cMultipart(t *testing.T) {
	s := newScenario(t, "5c", "multipart 6 x 60 MB in one message to the frontend")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 1, pollVM(vc.name))
	base := px.rss()

	// Watch the proxy's RSS while the message streams in.
	var peak atomic.Int64
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			peak.Store(max(peak.Load(), px.rss()))
			select {
			case <-stopWatch:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	sent, werr := sendMultipart(hostPort(px.front), 6, 60<<20)
	time.Sleep(2 * time.Second)
	close(stopWatch)
	<-watched
	later := px.rss()
	hwm := px.hwm()

	// The proxy serves on.
	c, err := startLoad(loadSpec{endpoint: px.front, conc: 1, timeout: 5 * time.Second, retries: 1,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	time.Sleep(300 * time.Millisecond)
	outs := c.stop()
	ca := tally(outs)
	st, serr := px.proxyStatus()

	var ck checks
	ck.add(sent >= 60<<20, "at least the first 60 MB frame delivered before the proxy hung up", "%s sent, end: %v", mb(sent), werr)
	ck.add(hwm < 300<<20, "proxy peak RSS (VmHWM) < 300 MB", "%s (before %s, sampled peak %s)", mb(hwm), mb(base), mb(peak.Load()))
	ck.add(later < 100<<20, "proxy RSS 2 s later < 100 MB", "%s", mb(later))
	ck.add(ca.Sent > 0 && ca.Answered == ca.Sent && serr == nil, "requests answered afterwards, status answers", "%d of %d, status err %v, handshakes ok %d", ca.Answered, ca.Sent, serr, st.Frontend.Accepted)
	s.record(&row{Requests: &ca, Recovery: -1, RSS: "proxy " + mb(hwm), Checks: ck})
}

// sendMultipart completes a DEALER handshake and streams one message of
// frames frames of size bytes each, from one reused 1 MiB buffer. It
// returns how many bytes went out before the peer stopped reading.
func sendMultipart(addr string, frames int, size int) (int64, error) {
	c, err := dialRaw(addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.handshake("DEALER", "", ""); err != nil {
		return 0, fmt.Errorf("handshake: %w", err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	chunk := bytes.Repeat([]byte("m"), 1<<20)
	var sent int64
	for f := range frames {
		n, err := c.Write(frameHeader(uint64(size), f < frames-1))
		sent += int64(n)
		if err != nil {
			return sent, fmt.Errorf("frame %d header: %w", f, err)
		}
		for left := size; left > 0; left -= len(chunk) {
			n, err := c.Write(chunk[:min(left, len(chunk))])
			sent += int64(n)
			if err != nil {
				return sent, fmt.Errorf("frame %d: %w", f, err)
			}
		}
	}
	return sent, nil
}
