package proxy

import (
	"errors"
	"fmt"
)

// maxEnvelopeFrames bounds the routing frames a client may put before its
// payload. REQ clients send one (the empty delimiter), plain DEALER clients
// none or one; anything far beyond that is not a vPoller client.
const maxEnvelopeFrames = 16

var errEmptyMessage = errors.New("empty message")

// splitEnvelope splits a message received from a client into its routing
// envelope (every frame before the last, echoed back unchanged with the
// reply so REQ and DEALER clients both get the shape they sent) and the
// payload (the last frame, the vPoller JSON request).
func splitEnvelope(frames [][]byte) (envelope [][]byte, payload []byte, err error) {
	if len(frames) == 0 {
		return nil, nil, errEmptyMessage
	}
	if len(frames)-1 > maxEnvelopeFrames {
		return nil, nil, fmt.Errorf("%d envelope frames (at most %d)", len(frames)-1, maxEnvelopeFrames)
	}
	return frames[:len(frames)-1], frames[len(frames)-1], nil
}

// splitWorkerReply reads a worker's answer: [id][""][reply] as the Python
// worker and ours send it; [id][reply] is accepted too. The id is the one
// the proxy gave the request.
func splitWorkerReply(frames [][]byte) (id string, reply []byte, err error) {
	switch {
	case len(frames) == 3 && len(frames[1]) == 0:
		return string(frames[0]), frames[2], nil
	case len(frames) == 2:
		return string(frames[0]), frames[1], nil
	default:
		return "", nil, fmt.Errorf("not a reply: %d frames, want [id][\"\"][reply]", len(frames))
	}
}

// replyFrames builds the message for a client: its envelope, then the reply.
func replyFrames(envelope [][]byte, reply []byte) [][]byte {
	out := make([][]byte, 0, len(envelope)+1)
	out = append(out, envelope...)
	return append(out, reply)
}

// routingEnvelope is the part of a refused message's first frames that
// routes a reply: the frames up to and including the empty delimiter (a
// REQ client's [""]), none when there is no delimiter (a DEALER client).
func routingEnvelope(head [][]byte) [][]byte {
	for i, f := range head {
		if len(f) == 0 {
			return head[:i+1]
		}
	}
	return nil
}
