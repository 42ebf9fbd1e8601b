package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/helpers"
)

// handle answers one message on the connection it came from. The last
// frame is the request; every frame before it is the envelope the proxy
// routes the reply by, returned unchanged: [id][""] from a ROUTER/DEALER
// proxy, [id] from proxies that omit the delimiter, or longer envelopes
// from chained routers (the Python worker could answer none but the first).
func (w *Worker) handle(ctx context.Context, conn *peerConn, frames [][]byte) {
	if len(frames) == 0 {
		w.inFlight.Add(-1)
		return
	}
	envelope := frames[:len(frames)-1]
	reply := w.Reply(ctx, frames[len(frames)-1])
	out := make([][]byte, 0, len(frames))
	out = append(out, envelope...)
	out = append(out, reply)
	// Counted before the send so a client that has its reply also sees
	// it counted in the status.
	w.requests.Add(1)
	w.inFlight.Add(-1)
	if err := conn.send(out, w.opts.SendTimeout); err != nil {
		w.log.Warn("reply not sent; connection will be re-established", "err", err)
	}
}

// Reply computes the reply frame for one request frame. It never panics:
// undecodable frames get the original worker's message (encoded with \u
// escapes as the original's own errors were), a frame above
// MaxRequestBytes gets MsgTooLarge, and a panic becomes the request's
// "Task <method> failed" reply.
func (w *Worker) Reply(ctx context.Context, payload []byte) (reply []byte) {
	if len(payload) > w.opts.MaxRequestBytes {
		w.log.Warn("request too large", "bytes", len(payload), "limit", w.opts.MaxRequestBytes)
		return vpoller.Failf("%s: %d bytes, the limit is %d", MsgTooLarge, len(payload), w.opts.MaxRequestBytes).Encode(vpoller.PythonASCII)
	}
	req, err := vpoller.DecodeRequest(payload)
	if err != nil {
		msg := vpoller.MsgInvalidMessage
		var me *vpoller.MessageError
		if errors.As(err, &me) {
			msg = me.Msg
		}
		w.log.Debug("undecodable request", "err", err)
		return vpoller.Fail(msg).Encode(vpoller.PythonASCII)
	}
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("request panicked", "request", req, "panic", r)
			reply = (&vpoller.Response{Success: 1, Msg: fmt.Sprintf("Task %s failed", req.Method),
				Traceback: fmt.Sprintf("panic: %v\n\n%s", r, debug.Stack())}).Encode(vpoller.Python)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, w.opts.RequestTimeout)
	defer cancel()
	w.log.Debug("request", "request", req)
	resp := w.exec.Execute(ctx, req)
	if w.helpers[req.Helper] {
		if out, ok := helpers.Apply(req.Helper, req, resp); ok {
			return out
		}
	}
	return resp.Encode(vpoller.Python)
}
