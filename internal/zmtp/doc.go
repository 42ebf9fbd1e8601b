// Package zmtp is the one guarded ZeroMQ transport (ZMTP 3) layer that
// every vPoller socket goes through: the proxy's frontend, backend and
// management sockets, the worker's connection to the proxy and its
// management socket, the client (and so the Zabbix agent 2 plugin).
//
// Why not zmq4's sockets: zmq4 allocates whatever size a peer announces in
// a frame header (8 bytes can ask for exabytes: a fatal error in Go, not a
// recoverable panic), keeps no per-message limit, has no handshake
// deadline, and its security interface cannot carry CURVE's encrypted
// frames (it writes the plaintext length in the header). This package
// keeps zmq4 for what it does well, the greeting and the handshake
// commands (zmq4.Open, driven by our mechanisms, which implement
// zmq4.Security), and does the framing after the handshake itself:
//
//   - the handshake runs under a deadline and a byte budget (a peer that
//     connects and says nothing, or announces a huge command, is dropped);
//   - every message is bounded in bytes and in frames before anything is
//     allocated (Limits); an over-size clear-text message can be read and
//     thrown away so that the sender gets an error reply (Limits.Discard);
//   - listeners cap their connections, run handshakes off the accept loop,
//     and retry transient accept errors with backoff, as net/http does;
//   - security mechanisms: NULL (the default, what py-vpoller speaks),
//     PLAIN with a checked shared secret (management sockets), and CURVE
//     (ZeroMQ RFC 26, on golang.org/x/crypto's NaCl box), interoperable
//     with libzmq built with libsodium.
//
// Writes put a whole message on the wire with one Write under a deadline,
// serialised with the PONG replies the reader sends.
package zmtp
