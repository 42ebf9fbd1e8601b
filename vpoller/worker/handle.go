package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/guard"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// dispatch answers one message on the connection it came from; it holds
// one worker slot (taken by the reader) and releases it. The last frame
// is the request; every frame before it is the envelope the proxy routes
// the reply by, returned unchanged: [id][""] from a ROUTER/DEALER proxy,
// [id] from proxies that omit the delimiter, or longer envelopes from
// chained routers (the Python worker could answer none but the first).
//
// A request for a vSphere agent goes through that agent's lane: it runs
// now if the lane has room (keeping the slot, which then serves the
// lane's queue), else it waits in the lane and the slot is given back at
// once, so a stalled vCenter's requests never hold the slots others need.
func (w *Worker) dispatch(ctx context.Context, conn *peerConn, frames [][]byte, sem chan struct{}, handlers *sync.WaitGroup) {
	if len(frames) == 0 {
		w.inFlight.Add(-1)
		handlers.Done()
		<-sem
		return
	}
	envelope := frames[:len(frames)-1]
	send := func(reply []byte) {
		out := make([][]byte, 0, len(frames))
		out = append(out, envelope...)
		out = append(out, reply)
		// Counted before the send so a client that has its reply also
		// sees it counted in the status.
		w.requests.Add(1)
		w.inFlight.Add(-1)
		if err := conn.send(out, w.opts.SendTimeout); err != nil {
			w.log.Warn("reply not sent; connection will be re-established", "err", err)
		}
		handlers.Done()
	}
	req, bad := w.decode(frames[len(frames)-1])
	if bad != nil {
		send(bad)
		<-sem
		return
	}
	j := &job{req: req, arrived: time.Now(), finish: func(r *vpoller.Response) { send(w.encode(req, r)) }}
	l := w.lane(req.Hostname)
	if l == nil {
		go func() {
			defer func() { <-sem }()
			_ = guard.Run(w.log, "worker request", func() { j.finish(w.execute(ctx, nil, req)) })
		}()
		return
	}
	if !l.submit(j) {
		<-sem // waiting in the lane, or refused: either way, not running
		return
	}
	go func() {
		defer func() { <-sem }()
		for ; j != nil; j = l.next() {
			_ = guard.Run(w.log, "worker request", func() { w.runJob(ctx, l, j) })
		}
	}()
}

// runJob answers one request of lane l. A request that waited past its
// deadline is not sent to vCenter (its client has given up), except to
// be told at once that the vCenter is unreachable.
func (w *Worker) runJob(ctx context.Context, l *lane, j *job) {
	if waited := time.Since(j.arrived); waited > w.opts.RequestTimeout && !l.open() {
		l.expired.Add(1)
		j.finish(vpoller.TaskFailed(j.req.Method,
			fmt.Sprintf("waited %s for vCenter %s (request timeout %s)", waited.Round(time.Millisecond), l.name, w.opts.RequestTimeout), nil))
		return
	}
	j.finish(w.execute(ctx, l, j.req))
}

// Reply computes the reply frame for one request frame, synchronously:
// through its vCenter's circuit breaker but not its slots (for callers
// that bound concurrency themselves, and for tests). It never panics.
func (w *Worker) Reply(ctx context.Context, payload []byte) []byte {
	req, bad := w.decode(payload)
	if bad != nil {
		return bad
	}
	return w.encode(req, w.execute(ctx, w.lane(req.Hostname), req))
}

// decode reads a request frame; bad input gets the original worker's
// message (encoded with \u escapes as the original's own errors were), a
// frame above MaxRequestBytes MsgTooLarge.
func (w *Worker) decode(payload []byte) (*vpoller.Request, []byte) {
	if len(payload) > w.opts.MaxRequestBytes {
		w.log.Warn("request too large", "bytes", len(payload), "limit", w.opts.MaxRequestBytes)
		return nil, vpoller.Failf("%s: %d bytes, the limit is %d", MsgTooLarge, len(payload), w.opts.MaxRequestBytes).Encode(vpoller.PythonASCII)
	}
	req, err := vpoller.DecodeRequest(payload)
	if err != nil {
		msg := vpoller.MsgInvalidMessage
		var me *vpoller.MessageError
		if errors.As(err, &me) {
			msg = me.Msg
		}
		w.log.Debug("undecodable request", "err", err)
		return nil, vpoller.Fail(msg).Encode(vpoller.PythonASCII)
	}
	return req, nil
}

// execute runs a request within RequestTimeout, through the lane's
// circuit breaker when there is a lane; a panic becomes the request's
// "Task <method> failed" reply.
func (w *Worker) execute(ctx context.Context, l *lane, req *vpoller.Request) *vpoller.Response {
	w.roles.touch(req.Hostname)
	return vpoller.Guard(req.Method, w.log, func() *vpoller.Response {
		ctx, cancel := context.WithTimeout(ctx, w.opts.RequestTimeout)
		defer cancel()
		w.log.Debug("request", "request", req)
		if l != nil {
			return l.execute(ctx, req, w.exec, w.opts.Unreachable)
		}
		return w.exec.Execute(ctx, req)
	})
}

// encode renders the reply with the helper the request names, within
// MaxReplyBytes.
func (w *Worker) encode(req *vpoller.Request, resp *vpoller.Response) []byte {
	var out []byte
	// A helper (or the encoder) that panics on an odd result answers
	// this request with an error; the worker goes on.
	if err := guard.Run(w.log, "worker reply encoding", func() {
		out = resp.EncodeFor(req.Method, vpoller.Python)
		if f := w.helpers[req.Helper]; f != nil {
			out = f(req, resp)
		}
	}); err != nil {
		return vpoller.TaskFailed(req.Method, err.Error(), nil).Encode(vpoller.PythonASCII)
	}
	if len(out) > w.opts.MaxReplyBytes {
		w.log.Warn("reply too large, replaced by an error", "method", req.Method, "bytes", len(out), "limit", w.opts.MaxReplyBytes)
		return vpoller.Failf("Reply too large: %d bytes (limit %d)", len(out), w.opts.MaxReplyBytes).Encode(vpoller.PythonASCII)
	}
	return out
}
