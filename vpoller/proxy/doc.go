// Package proxy is the vPoller broker: clients (REQ or DEALER, Go or
// libzmq) connect to its frontend, workers (DEALER) connect to its backend,
// and every request goes to the worker connection with the fewest
// outstanding requests.
//
// The original Python proxy copied frames blindly between a ROUTER and a
// DEALER socket. The go-zeromq/zmq4 DEALER cannot play that role (it sends
// every message to all of its peers, and zmq4.NewProxy panics when a peer
// disconnects), so this package manages each TCP connection itself on top of
// the exported ZMTP codec (zmq4.Open). Owning the connections is what makes
// the proxy's guarantees possible:
//
//   - load-aware dispatch (least outstanding, ties round-robin) that works for
//     Python workers too: they need nothing but the original
//     [identity][""][json] framing;
//   - bounded per-peer send queues and write deadlines, so one slow or dead
//     peer never stalls the others;
//   - no lost requests: a request whose worker connection dies is sent to
//     another worker, or held (bounded) until one connects;
//   - frame-size guards before any allocation, so no peer can make the
//     proxy allocate without bound.
//
// Known limit: a peer that sends ZMTP PING commands (libzmq with
// ZMQ_HEARTBEAT_IVL set; neither the original daemons nor ours do) gets its
// PONG from the zmq4 codec's reader, which writes it in two calls that are
// not serialised with the proxy's own (single-call) message writes.
package proxy
