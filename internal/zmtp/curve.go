package zmtp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/go-zeromq/zmq4"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

// CurveServer authenticates clients by their long-term public key and
// encrypts the connection (CurveZMQ, ZeroMQ RFC 26, as libzmq's
// ZMQ_CURVE_SERVER). allow lists the client keys that may connect; nil
// lets any client key in (encryption without client authentication).
func CurveServer(own curvekey.KeyPair, allow curvekey.AllowList) Mechanism {
	return &curveMechanism{server: true, own: own, allow: allow}
}

// CurveClient connects to the server whose long-term public key is server
// with its own long-term key pair (as libzmq's ZMQ_CURVE_SERVERKEY,
// ZMQ_CURVE_PUBLICKEY and ZMQ_CURVE_SECRETKEY).
func CurveClient(server curvekey.Key, own curvekey.KeyPair) Mechanism {
	return &curveMechanism{own: own, serverKey: server}
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
	helloBodyLen   = 2 + 72 + 32 + 8 + 80 // version, padding, C', nonce, box
	welcomeBodyLen = 16 + 144             // nonce, box[S' + cookie]
	cookieLen      = 16 + 80              // nonce, secretbox[C' + s']
	vouchLen       = 16 + 80              // nonce, box[C' + S]
	initiateMinLen = cookieLen + 8 + box.Overhead + 32 + vouchLen
	messageCommand = "\x07MESSAGE"
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

// connect is the client side: HELLO, WELCOME, INITIATE, READY.
func (h *curveHandshake) connect(conn *zmq4.Conn) error {
	serverPub := (*[32]byte)(&h.m.serverKey)
	ownSec := (*[32]byte)(&h.m.own.Secret)
	cnPub, cnSec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("CURVE: transient key: %w", err)
	}

	const helloNonce, initiateNonce = 1, 2
	hello := make([]byte, 0, helloBodyLen)
	hello = append(hello, 1, 0)
	hello = append(hello, make([]byte, 72)...)
	hello = append(hello, cnPub[:]...)
	hello = binary.BigEndian.AppendUint64(hello, helloNonce)
	hello = box.Seal(hello, make([]byte, 64), shortNonce("CurveZMQHELLO---", helloNonce), serverPub, cnSec)
	if err := conn.SendCmd(zmq4.CmdHello, hello); err != nil {
		return fmt.Errorf("send HELLO: %w", err)
	}

	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive WELCOME (is the server's public key right?): %w", err)
	}
	switch {
	case cmd.Name == zmq4.CmdError:
		return fmt.Errorf("%w: server said %s", ErrAuth, errorReason(cmd.Body))
	case cmd.Name != zmq4.CmdWelcome || len(cmd.Body) != welcomeBodyLen:
		return fmt.Errorf("%w: expected a CURVE WELCOME, got %q of %d bytes", ErrProtocol, cmd.Name, len(cmd.Body))
	}
	welcome, ok := box.Open(nil, cmd.Body[16:], longNonce("WELCOME-", cmd.Body[:16]), serverPub, cnSec)
	if !ok || len(welcome) != 32+cookieLen {
		return fmt.Errorf("%w: the WELCOME box does not open with the configured server key", ErrAuth)
	}
	snPub := key32(welcome[:32])
	cookie := welcome[32:]

	vouchNonce, err := random16()
	if err != nil {
		return err
	}
	vouch := append(vouchNonce, box.Seal(nil, append(append([]byte{}, cnPub[:]...), serverPub[:]...),
		longNonce("VOUCH---", vouchNonce), snPub, ownSec)...)
	plain := make([]byte, 0, 32+vouchLen+64)
	plain = append(plain, h.m.own.Public[:]...)
	plain = append(plain, vouch...)
	plain = append(plain, marshalMetadata(conn.Meta)...)
	initiate := append([]byte{}, cookie...)
	initiate = binary.BigEndian.AppendUint64(initiate, initiateNonce)
	initiate = box.Seal(initiate, plain, shortNonce("CurveZMQINITIATE", initiateNonce), snPub, cnSec)
	if err := conn.SendCmd(zmq4.CmdInitiate, initiate); err != nil {
		return fmt.Errorf("send INITIATE: %w", err)
	}

	cmd, err = conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive READY (is our key in the server's allow-list?): %w", err)
	}
	switch {
	case cmd.Name == zmq4.CmdError:
		return fmt.Errorf("%w: server refused our key: %s", ErrAuth, errorReason(cmd.Body))
	case cmd.Name != zmq4.CmdReady || len(cmd.Body) < 8+box.Overhead:
		return fmt.Errorf("%w: expected a CURVE READY, got %q of %d bytes", ErrProtocol, cmd.Name, len(cmd.Body))
	}
	readyNonce := binary.BigEndian.Uint64(cmd.Body[:8])
	meta, ok := box.Open(nil, cmd.Body[8:], shortNonce("CurveZMQREADY---", readyNonce), snPub, cnSec)
	if !ok {
		return fmt.Errorf("%w: the READY box does not open", ErrProtocol)
	}
	md, err := parseMetadata(meta)
	if err != nil {
		return err
	}
	conn.Peer.Meta = md
	h.c = newCurveCodec(snPub, cnSec, "CurveZMQMESSAGEC", "CurveZMQMESSAGES", initiateNonce, readyNonce)
	h.peerName = h.m.serverKey.String()
	return nil
}

// serve is the server side: HELLO, WELCOME, INITIATE, READY. The cookie
// key lives only as long as this connection's handshake, so the server
// keeps no state between HELLO and INITIATE beyond this object.
func (h *curveHandshake) serve(conn *zmq4.Conn) error {
	ownSec := (*[32]byte)(&h.m.own.Secret)
	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive HELLO: %w", err)
	}
	if cmd.Name != zmq4.CmdHello || len(cmd.Body) != helloBodyLen {
		return fmt.Errorf("%w: expected a CURVE HELLO, got %q of %d bytes", ErrProtocol, cmd.Name, len(cmd.Body))
	}
	b := cmd.Body
	if b[0] != 1 || b[1] != 0 {
		return fmt.Errorf("%w: CURVE version %d.%d (want 1.0)", ErrProtocol, b[0], b[1])
	}
	cnPub := key32(b[74:106])
	helloNonce := binary.BigEndian.Uint64(b[106:114])
	if _, ok := box.Open(nil, b[114:], shortNonce("CurveZMQHELLO---", helloNonce), cnPub, ownSec); !ok {
		return fmt.Errorf("%w: the client's HELLO does not open: it was not made for this server's public key", ErrAuth)
	}

	snPub, snSec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("CURVE: transient key: %w", err)
	}
	var cookieKey [32]byte
	if _, err := rand.Read(cookieKey[:]); err != nil {
		return fmt.Errorf("CURVE: random source: %w", err)
	}
	cookieNonce, err := random16()
	if err != nil {
		return err
	}
	cookie := append(cookieNonce, secretbox.Seal(nil, append(append([]byte{}, cnPub[:]...), snSec[:]...),
		longNonce("COOKIE--", cookieNonce), &cookieKey)...)
	welcomeNonce, err := random16()
	if err != nil {
		return err
	}
	welcome := append(welcomeNonce, box.Seal(nil, append(append([]byte{}, snPub[:]...), cookie...),
		longNonce("WELCOME-", welcomeNonce), cnPub, ownSec)...)
	if err := conn.SendCmd(zmq4.CmdWelcome, welcome); err != nil {
		return fmt.Errorf("send WELCOME: %w", err)
	}

	cmd, err = conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive INITIATE: %w", err)
	}
	if cmd.Name != zmq4.CmdInitiate || len(cmd.Body) < initiateMinLen {
		return fmt.Errorf("%w: expected a CURVE INITIATE, got %q of %d bytes", ErrProtocol, cmd.Name, len(cmd.Body))
	}
	b = cmd.Body
	back, ok := secretbox.Open(nil, b[16:cookieLen], longNonce("COOKIE--", b[:16]), &cookieKey)
	if !ok || !bytes.Equal(back[:32], cnPub[:]) || !bytes.Equal(back[32:], snSec[:]) {
		return fmt.Errorf("%w: INITIATE carries a cookie this connection did not issue", ErrProtocol)
	}
	initiateNonce := binary.BigEndian.Uint64(b[cookieLen : cookieLen+8])
	plain, ok := box.Open(nil, b[cookieLen+8:], shortNonce("CurveZMQINITIATE", initiateNonce), cnPub, snSec)
	if !ok || len(plain) < 32+vouchLen {
		return fmt.Errorf("%w: the INITIATE box does not open", ErrProtocol)
	}
	var clientKey curvekey.Key
	copy(clientKey[:], plain[:32])
	vouch := plain[32 : 32+vouchLen]
	vouched, ok := box.Open(nil, vouch[16:], longNonce("VOUCH---", vouch[:16]), (*[32]byte)(&clientKey), snSec)
	if !ok || len(vouched) != 64 || !bytes.Equal(vouched[:32], cnPub[:]) || !bytes.Equal(vouched[32:], h.m.own.Public[:]) {
		return fmt.Errorf("%w: client key %s did not vouch for this connection", ErrAuth, clientKey)
	}
	name := clientKey.String()
	if h.m.allow != nil {
		n, allowed := h.m.allow[clientKey]
		if !allowed {
			_ = conn.SendCmd(zmq4.CmdError, errorBody("400 client key not allowed"))
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
	ready = box.Seal(ready, marshalMetadata(conn.Meta), shortNonce("CurveZMQREADY---", readyNonce), cnPub, snSec)
	if err := conn.SendCmd(zmq4.CmdReady, ready); err != nil {
		return fmt.Errorf("send READY: %w", err)
	}
	h.c = newCurveCodec(cnPub, snSec, "CurveZMQMESSAGES", "CurveZMQMESSAGEC", readyNonce, initiateNonce)
	h.peerName = name
	return nil
}

// curveCodec seals and opens MESSAGE commands with the transient keys.
// seal runs under the connection's write lock, open in its one reader, so
// each direction's nonce has a single owner.
type curveCodec struct {
	key                    [32]byte
	sendPrefix, recvPrefix string
	sent, received         uint64 // last nonce used / seen
	plain                  []byte // seal's scratch
}

func newCurveCodec(peerPub, ownSec *[32]byte, sendPrefix, recvPrefix string, sent, received uint64) *curveCodec {
	c := &curveCodec{sendPrefix: sendPrefix, recvPrefix: recvPrefix, sent: sent, received: received}
	box.Precompute(&c.key, peerPub, ownSec)
	return c
}

func (c *curveCodec) sealedLen(n int) int { return len(messageCommand) + 8 + box.Overhead + 1 + n }

func (c *curveCodec) seal(dst []byte, flags byte, frame []byte) []byte {
	c.sent++
	dst = append(dst, messageCommand...)
	dst = binary.BigEndian.AppendUint64(dst, c.sent)
	c.plain = append(append(c.plain[:0], flags), frame...)
	dst = box.SealAfterPrecomputation(dst, c.plain, shortNonce(c.sendPrefix, c.sent), &c.key)
	if cap(c.plain) > 64<<10 {
		c.plain = nil
	}
	return dst
}

func (c *curveCodec) open(body []byte) (byte, []byte, error) {
	if len(body) < c.sealedLen(0) || string(body[:len(messageCommand)]) != messageCommand {
		return 0, nil, fmt.Errorf("%w: not a CURVE MESSAGE (%d bytes)", ErrProtocol, len(body))
	}
	nonce := binary.BigEndian.Uint64(body[8:16])
	if nonce <= c.received {
		return 0, nil, fmt.Errorf("%w: CURVE MESSAGE nonce %d not above %d (replayed?)", ErrProtocol, nonce, c.received)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, body[16:], shortNonce(c.recvPrefix, nonce), &c.key)
	if !ok || len(plain) < 1 {
		return 0, nil, fmt.Errorf("%w: CURVE MESSAGE does not open", ErrProtocol)
	}
	c.received = nonce
	return plain[0], plain[1:], nil
}
