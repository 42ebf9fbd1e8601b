// Package proxy is the vPoller broker: clients (REQ or DEALER, Go or
// libzmq) connect to its frontend, workers (DEALER) connect to its backend,
// and every request goes to the worker connection with the fewest
// outstanding requests.
//
// The original Python proxy copied frames blindly between a ROUTER and a
// DEALER socket. The go-zeromq/zmq4 DEALER cannot play that role (it sends
// every message to all of its peers, and zmq4.NewProxy panics when a peer
// disconnects), so this package manages each connection itself on the
// guarded ZMTP layer (internal/zmtp). Owning the connections is what makes
// the proxy's guarantees possible:
//
//   - load-aware dispatch (least outstanding, ties round-robin) that works for
//     Python workers too: they need nothing but the original
//     [identity][""][json] framing;
//   - bounded per-peer send queues and write deadlines, so one slow or dead
//     peer never stalls the others;
//   - no lost requests: a request whose worker connection dies is sent to
//     one more worker, or held until one connects; held requests are capped
//     in number and bytes, and a request whose second worker dies too is
//     refused ("worker lost twice") rather than sent on to kill a third;
//   - message-size caps before any allocation, connection caps, handshakes
//     under a deadline off the accept loop, idle clients closed: no peer can
//     make the proxy allocate without bound or stop accepting;
//   - optional CURVE on the frontend and the backend, with allow-lists.
package proxy
