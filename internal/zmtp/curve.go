package zmtp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/go-zeromq/zmq4"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
	//lint:ignore SA1019 the MESSAGE boxes are opened in place (see openInPlace); nacl/box has no way to, and Poly1305 is used exactly as NaCl's secretbox uses it.
	"golang.org/x/crypto/poly1305"
	"golang.org/x/crypto/salsa20"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

// CurveServer authenticates clients by their long-term public key and
// encrypts the connection (CurveZMQ, ZeroMQ RFC 26, as libzmq's
// ZMQ_CURVE_SERVER). allow lists the client keys that may connect; nil
// lets any client key in (encryption without client authentication),
// which a configuration must ask for explicitly (ServerMechanism).
func CurveServer(own curvekey.KeyPair, allow curvekey.AllowList) Mechanism {
	return &curveMechanism{server: true, own: own, allow: allow}
}

// CurveClient connects to the server whose long-term public key is server
// with its own long-term key pair (as libzmq's ZMQ_CURVE_SERVERKEY,
// ZMQ_CURVE_PUBLICKEY and ZMQ_CURVE_SECRETKEY). A weak server key (see
// curvekey.CheckPublic) fails every handshake before a byte is sent.
func CurveClient(server curvekey.Key, own curvekey.KeyPair) Mechanism {
	return &curveMechanism{own: own, serverKey: server}
}

// AcceptsAnyKey reports whether m is a CURVE server without an allow-list:
// its traffic is encrypted but any client key gets in, which start-up
// logs warn about.
func AcceptsAnyKey(m Mechanism) bool {
	c, ok := m.(*curveMechanism)
	return ok && c.server && c.allow == nil
}

type curveMechanism struct {
	server    bool
	own       curvekey.KeyPair
	serverKey curvekey.Key
	allow     curvekey.AllowList
}

func (*curveMechanism) Name() string { return string(zmq4.CurveSecurity) }
func (m *curveMechanism) newHandshake() handshake {
	return &curveHandshake{m: m}
}

// Sizes of the CurveZMQ commands' bodies (after the command name).
const (
	helloBodyLen   = 2 + 72 + 32 + 8 + 80 // version, padding, C', nonce, box[64 zeros]
	welcomeBodyLen = 16 + 144             // nonce, box[S' + cookie]
	cookieLen      = 16 + 80              // nonce, secretbox[C' + s']
	vouchLen       = 16 + 80              // nonce, box[C' + S]
	initiateMinLen = cookieLen + 8 + box.Overhead + 32 + vouchLen
	readyMinLen    = 8 + box.Overhead
	messageCommand = "\x07MESSAGE"
	// messageHeadLen is what precedes a MESSAGE's ciphertext: the command
	// name, the nonce and the Poly1305 tag.
	messageHeadLen = len(messageCommand) + 8 + box.Overhead
)

// Nonce prefixes (RFC 26). The two MESSAGE prefixes differ by direction,
// so that a peer cannot reflect our own MESSAGEs back at us: both
// directions use the same key.
const (
	helloPrefix    = "CurveZMQHELLO---"
	welcomePrefix  = "WELCOME-"
	cookiePrefix   = "COOKIE--"
	initiatePrefix = "CurveZMQINITIATE"
	vouchPrefix    = "VOUCH---"
	readyPrefix    = "CurveZMQREADY---"
	clientPrefix   = "CurveZMQMESSAGEC"
	serverPrefix   = "CurveZMQMESSAGES"
)

type curveHandshake struct {
	passThrough
	m        *curveMechanism
	c        *curveCodec
	peerName string
}

func (*curveHandshake) Type() zmq4.SecurityType { return zmq4.CurveSecurity }
func (h *curveHandshake) codec() codec {
	if h.c == nil {
		return nil
	}
	return h.c
}
func (h *curveHandshake) peer() string { return h.peerName }

func (h *curveHandshake) Handshake(conn *zmq4.Conn, _ bool) error {
	if h.m.server {
		return h.serve(conn)
	}
	return h.connect(conn)
}

func shortNonce(prefix string, n uint64) *[24]byte {
	var out [24]byte
	copy(out[:16], prefix)
	binary.BigEndian.PutUint64(out[16:], n)
	return &out
}

func longNonce(prefix string, random []byte) *[24]byte {
	var out [24]byte
	copy(out[:8], prefix)
	copy(out[8:], random)
	return &out
}

func random16() ([]byte, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("CURVE: random source: %w", err)
	}
	return b, nil
}

func key32(b []byte) *[32]byte {
	var k [32]byte
	copy(k[:], b)
	return &k
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// sharedKey is NaCl's crypto_box_beforenm: the box key of a peer's public
// key and one of our secret keys. A peer key of small order is refused,
// as libsodium refuses it: the Diffie-Hellman result would then be zero
// whatever our secret, and whoever sent the key could read the session.
// curve25519.X25519 reports exactly that case.
func sharedKey(peer, own *[32]byte) (*[32]byte, error) {
	if _, err := curve25519.X25519(own[:], peer[:]); err != nil {
		return nil, fmt.Errorf("%w: %s is a point of small order", curvekey.ErrWeakKey, curvekey.Key(*peer))
	}
	var k [32]byte
	box.Precompute(&k, peer, own)
	return &k, nil
}

// closedEarly reports whether err means the peer closed the connection
// (rather than sending something wrong or timing out): during a CURVE
// handshake that is how a server says no to a key it cannot use.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// connect is the client side: HELLO, WELCOME, INITIATE, READY.
func (h *curveHandshake) connect(conn *zmq4.Conn) error {
	serverPub := (*[32]byte)(&h.m.serverKey)
	cn, err := curvekey.Generate()
	if err != nil {
		return fmt.Errorf("CURVE: transient key: %w", err)
	}
	helloKey, err := sharedKey(serverPub, (*[32]byte)(&cn.Secret))
	if err != nil {
		return fmt.Errorf("%w: the configured server key: %w", ErrAuth, err)
	}

	const helloNonce, initiateNonce = 1, 2
	hello := make([]byte, 0, helloBodyLen)
	hello = append(hello, 1, 0)
	hello = append(hello, make([]byte, 72)...)
	hello = append(hello, cn.Public[:]...)
	hello = binary.BigEndian.AppendUint64(hello, helloNonce)
	hello = box.SealAfterPrecomputation(hello, make([]byte, 64), shortNonce(helloPrefix, helloNonce), helloKey)
	if err := conn.SendCmd(zmq4.CmdHello, hello); err != nil {
		return fmt.Errorf("send HELLO: %w", err)
	}

	cmd, err := recvCommand(conn)
	switch {
	case err != nil && closedEarly(err):
		return fmt.Errorf("%w: the server closed the connection after our HELLO: is the configured server key its public key? (%v)", ErrAuth, err)
	case err != nil:
		return fmt.Errorf("receive WELCOME: %w", err)
	case cmd.Name == zmq4.CmdError:
		return peerError(cmd.Body)
	case cmd.Name != zmq4.CmdWelcome || len(cmd.Body) != welcomeBodyLen:
		return fmt.Errorf("%w: expected a CURVE WELCOME of %d bytes, got %q of %d bytes", ErrProtocol, welcomeBodyLen, cmd.Name, len(cmd.Body))
	}
	welcome, ok := box.OpenAfterPrecomputation(nil, cmd.Body[16:], longNonce(welcomePrefix, cmd.Body[:16]), helloKey)
	if !ok {
		return fmt.Errorf("%w: the WELCOME does not open with the configured server key: the server is not the one configured", ErrAuth)
	}
	snPub := key32(welcome[:32])
	cookie := welcome[32:]
	// Both boxes that follow are made for S': refuse a weak one before
	// anything depends on it.
	sessionKey, err := sharedKey(snPub, (*[32]byte)(&cn.Secret))
	if err != nil {
		return fmt.Errorf("%w: the server's transient key: %w", ErrAuth, err)
	}
	vouchKey, err := sharedKey(snPub, (*[32]byte)(&h.m.own.Secret))
	if err != nil {
		return fmt.Errorf("%w: the server's transient key: %w", ErrAuth, err)
	}

	vouchNonce, err := random16()
	if err != nil {
		return err
	}
	vouch := append(vouchNonce, box.SealAfterPrecomputation(nil, append(append([]byte{}, cn.Public[:]...), serverPub[:]...),
		longNonce(vouchPrefix, vouchNonce), vouchKey)...)
	plain := make([]byte, 0, 32+vouchLen+64)
	plain = append(plain, h.m.own.Public[:]...)
	plain = append(plain, vouch...)
	plain = append(plain, marshalMetadata(conn.Meta)...)
	initiate := append([]byte{}, cookie...)
	initiate = binary.BigEndian.AppendUint64(initiate, initiateNonce)
	initiate = box.SealAfterPrecomputation(initiate, plain, shortNonce(initiatePrefix, initiateNonce), sessionKey)
	if err := conn.SendCmd(zmq4.CmdInitiate, initiate); err != nil {
		return fmt.Errorf("send INITIATE: %w", err)
	}

	cmd, err = recvCommand(conn)
	switch {
	case err != nil && closedEarly(err):
		return fmt.Errorf("%w: the server closed the connection after our INITIATE: is our public key %s in its allow-list? (%v)",
			ErrAuth, h.m.own.Public, err)
	case err != nil:
		return fmt.Errorf("receive READY: %w", err)
	case cmd.Name == zmq4.CmdError:
		return fmt.Errorf("our key %s: %w", h.m.own.Public, peerError(cmd.Body))
	case cmd.Name != zmq4.CmdReady || len(cmd.Body) < readyMinLen:
		return fmt.Errorf("%w: expected a CURVE READY, got %q of %d bytes", ErrProtocol, cmd.Name, len(cmd.Body))
	}
	readyNonce := binary.BigEndian.Uint64(cmd.Body[:8])
	meta, ok := box.OpenAfterPrecomputation(nil, cmd.Body[8:], shortNonce(readyPrefix, readyNonce), sessionKey)
	if !ok {
		return fmt.Errorf("%w: the READY box does not open", ErrProtocol)
	}
	md, err := parseMetadata(meta)
	if err != nil {
		return err
	}
	conn.Peer.Meta = md
	h.c = newCurveCodec(sessionKey, clientPrefix, serverPrefix, initiateNonce, readyNonce)
	h.peerName = h.m.serverKey.String()
	return nil
}

// serve is the server side: HELLO, WELCOME, INITIATE, READY. The cookie
// key lives only as long as this connection's handshake, so the server
// keeps no state between HELLO and INITIATE beyond this object. Failures
// of the client's credentials (a HELLO not made for our key, a weak key,
// a vouch that does not open, a key not allowed) are answered with ERROR
// "400", as libzmq's ZAP does; malformed commands close the connection.
func (h *curveHandshake) serve(conn *zmq4.Conn) error {
	ownSec := (*[32]byte)(&h.m.own.Secret)
	cmd, err := recvCommand(conn)
	if err != nil {
		return fmt.Errorf("receive HELLO: %w", err)
	}
	if cmd.Name != zmq4.CmdHello || len(cmd.Body) != helloBodyLen {
		return fmt.Errorf("%w: expected a CURVE HELLO of %d bytes, got %q of %d bytes", ErrProtocol, helloBodyLen, cmd.Name, len(cmd.Body))
	}
	b := cmd.Body
	if b[0] != 1 || b[1] != 0 {
		return fmt.Errorf("%w: CURVE version %d.%d (want 1.0)", ErrProtocol, b[0], b[1])
	}
	if !allZero(b[2:74]) {
		return fmt.Errorf("%w: HELLO padding is not zeros", ErrProtocol)
	}
	cnPub := key32(b[74:106])
	helloNonce := binary.BigEndian.Uint64(b[106:114])
	helloKey, err := sharedKey(cnPub, ownSec)
	if err != nil {
		refuse(conn, statusAuth)
		return fmt.Errorf("%w: the client's transient key: %w", ErrAuth, err)
	}
	signature, ok := box.OpenAfterPrecomputation(nil, b[114:], shortNonce(helloPrefix, helloNonce), helloKey)
	if !ok {
		refuse(conn, statusAuth)
		return fmt.Errorf("%w: the client's HELLO does not open: it was made for another server key than ours (%s)", ErrAuth, h.m.own.Public)
	}
	if !allZero(signature) {
		return fmt.Errorf("%w: HELLO signature box does not hold 64 zero bytes", ErrProtocol)
	}

	sn, err := curvekey.Generate()
	if err != nil {
		refuse(conn, statusInternal)
		return fmt.Errorf("CURVE: transient key: %w", err)
	}
	var cookieKey [32]byte
	cookieNonce, err := random16()
	if err == nil {
		_, err = rand.Read(cookieKey[:])
	}
	var welcomeNonce []byte
	if err == nil {
		welcomeNonce, err = random16()
	}
	if err != nil {
		refuse(conn, statusInternal)
		return fmt.Errorf("CURVE: random source: %w", err)
	}
	cookie := append(cookieNonce, secretbox.Seal(nil, append(append([]byte{}, cnPub[:]...), sn.Secret[:]...),
		longNonce(cookiePrefix, cookieNonce), &cookieKey)...)
	welcome := append(welcomeNonce, box.SealAfterPrecomputation(nil, append(append([]byte{}, sn.Public[:]...), cookie...),
		longNonce(welcomePrefix, welcomeNonce), helloKey)...)
	if err := conn.SendCmd(zmq4.CmdWelcome, welcome); err != nil {
		return fmt.Errorf("send WELCOME: %w", err)
	}

	cmd, err = recvCommand(conn)
	if err != nil {
		return fmt.Errorf("receive INITIATE: %w", err)
	}
	if cmd.Name != zmq4.CmdInitiate || len(cmd.Body) < initiateMinLen {
		return fmt.Errorf("%w: expected a CURVE INITIATE, got %q of %d bytes", ErrProtocol, cmd.Name, len(cmd.Body))
	}
	b = cmd.Body
	back, ok := secretbox.Open(nil, b[16:cookieLen], longNonce(cookiePrefix, b[:16]), &cookieKey)
	if !ok || !bytes.Equal(back[:32], cnPub[:]) || !bytes.Equal(back[32:], sn.Secret[:]) {
		return fmt.Errorf("%w: INITIATE carries a cookie this connection did not issue (replayed?)", ErrProtocol)
	}
	initiateNonce := binary.BigEndian.Uint64(b[cookieLen : cookieLen+8])
	if initiateNonce <= helloNonce {
		return fmt.Errorf("%w: INITIATE nonce %d not above the HELLO's %d", ErrProtocol, initiateNonce, helloNonce)
	}
	sessionKey, err := sharedKey(cnPub, (*[32]byte)(&sn.Secret))
	if err != nil { // C' passed this check with our long-term key already
		return fmt.Errorf("%w: the client's transient key: %w", ErrAuth, err)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, b[cookieLen+8:], shortNonce(initiatePrefix, initiateNonce), sessionKey)
	if !ok {
		return fmt.Errorf("%w: the INITIATE box does not open", ErrProtocol)
	}
	var clientKey curvekey.Key
	copy(clientKey[:], plain[:32])
	vouchKey, err := sharedKey((*[32]byte)(&clientKey), (*[32]byte)(&sn.Secret))
	if err != nil {
		refuse(conn, statusAuth)
		return fmt.Errorf("%w: the client's permanent key: %w", ErrAuth, err)
	}
	vouch := plain[32 : 32+vouchLen]
	vouched, ok := box.OpenAfterPrecomputation(nil, vouch[16:], longNonce(vouchPrefix, vouch[:16]), vouchKey)
	if !ok || !bytes.Equal(vouched[:32], cnPub[:]) || !bytes.Equal(vouched[32:], h.m.own.Public[:]) {
		refuse(conn, statusAuth)
		return fmt.Errorf("%w: client key %s did not vouch for this connection (not the owner of that key)", ErrAuth, clientKey)
	}
	name := clientKey.String()
	if h.m.allow != nil {
		n, allowed := h.m.allow[clientKey]
		if !allowed {
			refuse(conn, statusAuth)
			return fmt.Errorf("%w: CURVE client key %s is not in the allow-list", ErrAuth, clientKey)
		}
		name = n
	}
	md, err := parseMetadata(plain[32+vouchLen:])
	if err != nil {
		return err
	}
	conn.Peer.Meta = md

	const readyNonce = 1
	ready := binary.BigEndian.AppendUint64(nil, readyNonce)
	ready = box.SealAfterPrecomputation(ready, marshalMetadata(conn.Meta), shortNonce(readyPrefix, readyNonce), sessionKey)
	if err := conn.SendCmd(zmq4.CmdReady, ready); err != nil {
		return fmt.Errorf("send READY: %w", err)
	}
	h.c = newCurveCodec(sessionKey, serverPrefix, clientPrefix, readyNonce, initiateNonce)
	h.peerName = name
	return nil
}

// curveCodec seals and opens MESSAGE commands with the session key. seal
// runs under the connection's write lock, open in its one reader, so each
// direction's nonce has a single owner. Both work in place: a 64 MiB
// reply costs the buffer it arrives in (or is written from), not a
// second one.
type curveCodec struct {
	key                    [32]byte // box.Precompute of the transient keys
	sendPrefix, recvPrefix string
	sent, received         uint64 // last nonce used / seen
}

func newCurveCodec(key *[32]byte, sendPrefix, recvPrefix string, sent, received uint64) *curveCodec {
	return &curveCodec{key: *key, sendPrefix: sendPrefix, recvPrefix: recvPrefix, sent: sent, received: received}
}

func (c *curveCodec) sealedLen(n int) int { return messageHeadLen + 1 + n }

// zeroHead is where seal's keystream for the Poly1305 key goes.
var zeroHead [messageHeadLen]byte

// seal appends the MESSAGE command carrying flags and frame. It is NaCl's
// secretbox (XSalsa20 and Poly1305, what box.SealAfterPrecomputation
// does) computed in dst itself: the 32 bytes before the ciphertext, where
// the command name, nonce and tag go, first take the keystream block that
// is the Poly1305 key.
func (c *curveCodec) seal(dst []byte, flags byte, frame []byte) []byte {
	c.sent++
	start := len(dst)
	dst = append(dst, zeroHead[:]...)
	dst = append(dst, flags)
	dst = append(dst, frame...)
	msg := dst[start:]
	nonce := shortNonce(c.sendPrefix, c.sent)
	salsa20.XORKeyStream(msg, msg, nonce[:], &c.key)
	var polyKey [32]byte
	copy(polyKey[:], msg[:32])
	var tag [poly1305.TagSize]byte
	poly1305.Sum(&tag, msg[messageHeadLen:], &polyKey)
	copy(msg, messageCommand)
	binary.BigEndian.PutUint64(msg[len(messageCommand):], c.sent)
	copy(msg[len(messageCommand)+8:], tag[:])
	return dst
}

// open checks and decrypts one MESSAGE command in place: the frame it
// returns aliases body. Its nonce must exceed every nonce seen before
// (replays and reordering are refused, RFC 26), its box must open with
// the peer's direction prefix, and its flags may only be MORE or COMMAND
// (not both: a command is a single frame).
func (c *curveCodec) open(body []byte) (byte, []byte, error) {
	if len(body) < c.sealedLen(0) || string(body[:len(messageCommand)]) != messageCommand {
		return 0, nil, fmt.Errorf("%w: not a CURVE MESSAGE (%d bytes)", ErrProtocol, len(body))
	}
	n := binary.BigEndian.Uint64(body[8:16])
	if n <= c.received {
		return 0, nil, fmt.Errorf("%w: CURVE MESSAGE nonce %d not above %d (replayed?)", ErrProtocol, n, c.received)
	}
	if !openInPlace(body, shortNonce(c.recvPrefix, n), &c.key) {
		return 0, nil, fmt.Errorf("%w: CURVE MESSAGE does not open (altered, or not from this session's peer)", ErrProtocol)
	}
	c.received = n
	flags := body[messageHeadLen]
	switch {
	case flags&^(curveMore|curveCommand) != 0:
		return 0, nil, fmt.Errorf("%w: reserved CURVE MESSAGE flags %#02x", ErrProtocol, flags)
	case flags&curveCommand != 0 && flags&curveMore != 0:
		return 0, nil, fmt.Errorf("%w: a command with MORE set", ErrProtocol)
	}
	return flags, body[messageHeadLen+1:], nil
}

// openInPlace authenticates msg[messageHeadLen:] as secretbox ciphertext
// under the tag msg[16:32] and, when it is authentic, decrypts it where it
// lies (msg[:messageHeadLen] is overwritten). It is secretbox.Open, which
// cannot decrypt in place: the Poly1305 key is the keystream's first 32
// bytes, the plaintext the ciphertext XOR the keystream from byte 32 on.
// Nothing is changed when the tag does not verify.
func openInPlace(msg []byte, nonce *[24]byte, key *[32]byte) bool {
	var polyKey [32]byte
	salsa20.XORKeyStream(polyKey[:], polyKey[:], nonce[:], key)
	var tag [poly1305.TagSize]byte
	copy(tag[:], msg[messageHeadLen-poly1305.TagSize:messageHeadLen])
	if !poly1305.Verify(&tag, msg[messageHeadLen:], &polyKey) {
		return false
	}
	clear(msg[:32])
	salsa20.XORKeyStream(msg, msg, nonce[:], key)
	clear(msg[:32])
	return true
}
