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
//   - every message is bounded in bytes and in frames (Limits); an
//     over-size clear-text message can be read and thrown away so that the
//     sender gets an error reply (Limits.Discard);
//   - nothing is allocated at the size a header announces: frames (and
//     CURVE MESSAGE boxes) are read in chunks of at most 64 KiB, each
//     charged to a shared memory budget (Limits.Budget) before it is
//     allocated, so what peers make a process hold is bounded by what they
//     actually sent and by the budget (ErrBudget); a message that stops
//     in the middle for Limits.StallTimeout ends its connection
//     (ErrStalled) and frees its charge;
//   - listeners keep handshakes and established connections in separate
//     pools: a bounded handshake pool, per listener and per source
//     address, where a newcomer closes the handshake that has waited
//     longest for its peer; an established pool (MaxConns) where only a
//     peer that completed its handshake, so authenticated, may evict an
//     idle connection (ListenConfig.Evict). Handshakes run off the accept
//     loop, and transient accept errors are retried with backoff, as
//     net/http does;
//   - a source address that fails to authenticate has its next handshakes
//     delayed (100 ms doubling to 5 s, in their own goroutines), so
//     guessing secrets or keys runs at well under 10 attempts a second,
//     and the refusals are logged once per 10 s with their count;
//   - liveness: Conn.Ping sends a ZMTP PING (RFC 37); the reader answers
//     PINGs and notes PONGs (Conn.LastPong, Conn.LastRead). libzmq 4.3
//     answers our PINGs by itself, under NULL and CURVE;
//   - security mechanisms: NULL (the default, what py-vpoller speaks),
//     PLAIN with a checked shared secret (management sockets), and CURVE
//     (ZeroMQ RFC 26, on golang.org/x/crypto's NaCl box), interoperable
//     with libzmq built with libsodium.
//
// Writes put a whole message on the wire with one Write under a deadline,
// serialised with the PONG replies the reader sends.
package zmtp
