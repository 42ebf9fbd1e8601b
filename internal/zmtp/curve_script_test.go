package zmtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"golang.org/x/crypto/nacl/box"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// The scripted CURVE peer: a client or server written out step by step,
// so that tests and fuzzers can send what libzmq never sends (a replayed
// or foreign cookie, a low-order transient key, a bit flip inside a box,
// MESSAGE nonces out of order, ...). It is a fake peer, used only for
// faults the real one (libzmq, testdata/curve_peer.py) cannot produce;
// the same cases against libzmq are in curve_test.go.

// Fixed test keys: the client and server pairs of libzmq's zmq_curve(7)
// manual ("TEST KEY VALUES"), so that the fuzzers reach past HELLO with
// every run, and a third pair that no allow-list holds.
var (
	testServerKP = mustKeyPair("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")
	testClientKP = mustKeyPair("D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
	testOtherKP  = mustKeyPair("5f0a2c7e9b13d8e46a1f0c3b7d2e9a8154c6b0f3e2d1a9b8c7f6e5d4c3b2a190")
	testAllow    = curvekey.AllowList{testClientKP.Public: "client.key"}
)

func mustKeyPair(secret string) curvekey.KeyPair {
	k, err := curvekey.ParseKey(secret)
	if err != nil {
		panic(err)
	}
	kp, err := curvekey.FromSecret(k)
	if err != nil {
		panic(err)
	}
	return kp
}

// lowOrderKey is a point of small order (p - 1): X25519 with it is zero
// whatever the secret scalar.
var lowOrderKey = func() curvekey.Key {
	k := curvekey.Key{0: 0xec, 31: 0x7f}
	for i := 1; i < 31; i++ {
		k[i] = 0xff
	}
	return k
}()

// scriptField names what the scripted peer changes: the field of one
// command it replaces with (or XORs with) the script's data.
type scriptField uint8

const (
	sfNone scriptField = iota

	// What a scripted client sends to our server.
	sfHelloFlags     // the HELLO frame's flags byte = data[0]
	sfHelloRaw       // the HELLO body = data
	sfHelloVersion   // version bytes = data
	sfHelloPadding   // padding XOR data
	sfHelloTransient // C' = data (the box still made with the real c')
	sfHelloSignature // the signature box holds data instead of 64 zeros
	sfHelloServerKey // the signature box made for key data instead of S
	sfHelloNonce     // the HELLO's short nonce = data
	sfInitiateRaw    // the INITIATE body = data
	sfInitiateCookie // the cookie = data
	sfInitiateNonce  // the INITIATE's short nonce = data
	sfInitiateClient // the permanent key C announced = data (vouch by the real C)
	sfInitiateVouch  // the vouch box holds data instead of C' + S
	sfInitiateMeta   // the metadata = data
	sfInitiateFlip   // INITIATE body XOR data (at the end)
	sfErrorAtWelcome // (server script) ERROR with reason data instead of WELCOME
	sfCloseAtWelcome // (server script) close instead of WELCOME
	sfWelcomeRaw     // the WELCOME body = data
	sfWelcomeFlip    // WELCOME body XOR data
	sfWelcomeKey     // the WELCOME box made with key data instead of S
	sfWelcomeSn      // S' = data
	sfErrorAtReady   // (server script) ERROR with reason data instead of READY
	sfCloseAtReady   // (server script) close instead of READY
	sfReadyRaw       // the READY body = data
	sfReadyNonce     // the READY's short nonce = data
	sfReadyMeta      // the READY metadata = data
	sfReadyFlip      // READY body XOR data
	sfMessages       // after the handshake: MESSAGEs whose plaintexts data holds
	sfMessageNonces  // MESSAGEs "x" with the nonces data holds (8 bytes each)
	sfMessageReflect // a MESSAGE sealed with our own direction's prefix
	sfMessageFlip    // a MESSAGE XOR data
	sfRawAfter       // after the handshake: data as raw bytes
	sfCount
)

var scriptFieldNames = [...]string{
	"none", "hello-flags", "hello-raw", "hello-version", "hello-padding", "hello-transient", "hello-signature",
	"hello-server-key", "hello-nonce", "initiate-raw", "initiate-cookie", "initiate-nonce", "initiate-client",
	"initiate-vouch", "initiate-meta", "initiate-flip", "error-at-welcome", "close-at-welcome", "welcome-raw",
	"welcome-flip", "welcome-key", "welcome-sn", "error-at-ready", "close-at-ready", "ready-raw", "ready-nonce",
	"ready-meta", "ready-flip", "messages", "message-nonces", "message-reflect", "message-flip", "raw-after",
}

func (f scriptField) String() string {
	if int(f) < len(scriptFieldNames) {
		return scriptFieldNames[f]
	}
	return fmt.Sprintf("field%d", f)
}

// script is one run of the scripted peer.
type script struct {
	field scriptField
	data  []byte
	// client is the scripted client's permanent key pair (default
	// testClientKP); server the server's public key it uses (default
	// testServerKP.Public).
	client curvekey.KeyPair
	server *curvekey.Key
	// replayInitiate, when set, is sent as the INITIATE whatever the
	// WELCOME held (which the script then does not need to open): a
	// replay of an INITIATE captured on another connection.
	replayInitiate []byte

	// What the run observed.
	gotError string // reason of the ERROR the peer sent, if any
	ready    bool   // the handshake completed on the script's side
	hello    []byte // the HELLO body sent (for replays)
	initiate []byte // the INITIATE body sent
	welcome  []byte // the WELCOME body sent (server script)
}

// u64 reads a nonce from the script's data (zero-padded).
func u64(b []byte) uint64 {
	var x [8]byte
	copy(x[:], b)
	return binary.BigEndian.Uint64(x[:])
}

func pad32(b []byte) *[32]byte {
	var k [32]byte
	copy(k[:], b)
	return &k
}

func xorInto(dst, mask []byte) {
	if len(dst) == 0 {
		return
	}
	for i, m := range mask {
		dst[len(dst)-1-i%len(dst)] ^= m
	}
}

// writeCmd writes a command frame with the given flags (0: the usual
// COMMAND flag).
func writeCmd(w io.Writer, flags byte, name string, body []byte) error {
	if flags == 0 {
		flags = flagCommand
	}
	data := append([]byte{byte(len(name))}, name...)
	data = append(data, body...)
	_, err := w.Write(append(appendHeader(nil, flags, len(data)), data...))
	return err
}

func readCmd(r io.Reader) (string, []byte, error) {
	cmd, err := recvCommand(r)
	return cmd.Name, cmd.Body, err
}

// metadata is what a DEALER or ROUTER sends in its handshake.
func scriptMeta(socketType string) []byte {
	return marshalMetadata(zmq4.Metadata{propSocketType: socketType, propIdentity: ""})
}

// runClient plays a CURVE client (a DEALER) against a server on c.
func (s *script) runClient(c net.Conn) error {
	if s.client == (curvekey.KeyPair{}) {
		s.client = testClientKP
	}
	serverPub := testServerKP.Public
	if s.server != nil {
		serverPub = *s.server
	}
	if _, err := c.Write(testutil.Greeting("CURVE", false)); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, make([]byte, zmtpGreetingLen)); err != nil {
		return err
	}
	cn, err := curvekey.Generate()
	if err != nil {
		return err
	}
	// HELLO
	helloNonce := uint64(1)
	if s.field == sfHelloNonce {
		helloNonce = u64(s.data)
	}
	sealFor := (*[32]byte)(&serverPub)
	if s.field == sfHelloServerKey {
		sealFor = pad32(s.data)
	}
	sig := make([]byte, 64)
	if s.field == sfHelloSignature {
		sig = s.data
	}
	hello := []byte{1, 0}
	if s.field == sfHelloVersion {
		hello = append([]byte{}, s.data...)
	}
	padding := make([]byte, 72)
	if s.field == sfHelloPadding {
		xorInto(padding, s.data)
	}
	hello = append(hello, padding...)
	cnPub := cn.Public[:]
	if s.field == sfHelloTransient {
		cnPub = pad32(s.data)[:]
	}
	hello = append(hello, cnPub...)
	hello = binary.BigEndian.AppendUint64(hello, helloNonce)
	hello = box.Seal(hello, sig, shortNonce(helloPrefix, helloNonce), sealFor, (*[32]byte)(&cn.Secret))
	var flags byte
	switch s.field {
	case sfHelloRaw:
		hello = s.data
	case sfHelloFlags:
		if len(s.data) > 0 {
			flags = s.data[0]
		}
	}
	s.hello = hello
	if err := writeCmd(c, flags, zmq4.CmdHello, hello); err != nil {
		return err
	}

	// WELCOME
	name, body, err := readCmd(c)
	if err != nil {
		return err
	}
	if name == zmq4.CmdError {
		s.gotError = errorReason(body)
		return nil
	}
	if name != zmq4.CmdWelcome || len(body) != welcomeBodyLen {
		return fmt.Errorf("script: got %q of %d bytes for WELCOME", name, len(body))
	}
	if s.replayInitiate != nil {
		if err := writeCmd(c, 0, zmq4.CmdInitiate, s.replayInitiate); err != nil {
			return err
		}
		if name, body, err := readCmd(c); err == nil && name == zmq4.CmdError {
			s.gotError = errorReason(body)
		}
		return nil
	}
	welcome, ok := box.Open(nil, body[16:], longNonce(welcomePrefix, body[:16]), (*[32]byte)(&serverPub), (*[32]byte)(&cn.Secret))
	if !ok {
		return errors.New("script: WELCOME does not open")
	}
	snPub := pad32(welcome[:32])
	cookie := welcome[32:]

	// INITIATE
	initiateNonce := helloNonce + 1
	if s.field == sfInitiateNonce {
		initiateNonce = u64(s.data)
	}
	if s.field == sfInitiateCookie {
		cookie = make([]byte, cookieLen)
		copy(cookie, s.data)
	}
	vouchNonce := make([]byte, 16)
	vouchPlain := append(append([]byte{}, cn.Public[:]...), serverPub[:]...)
	if s.field == sfInitiateVouch {
		vouchPlain = s.data
	}
	vouch := append(vouchNonce, box.Seal(nil, vouchPlain, longNonce(vouchPrefix, vouchNonce), snPub, (*[32]byte)(&s.client.Secret))...)
	announced := s.client.Public[:]
	if s.field == sfInitiateClient {
		announced = pad32(s.data)[:]
	}
	meta := scriptMeta("DEALER")
	if s.field == sfInitiateMeta {
		meta = s.data
	}
	plain := append(append(append([]byte{}, announced...), vouch...), meta...)
	initiate := append([]byte{}, cookie...)
	initiate = binary.BigEndian.AppendUint64(initiate, initiateNonce)
	initiate = box.Seal(initiate, plain, shortNonce(initiatePrefix, initiateNonce), snPub, (*[32]byte)(&cn.Secret))
	switch s.field {
	case sfInitiateRaw:
		initiate = s.data
	case sfInitiateFlip:
		xorInto(initiate, s.data)
	}
	s.initiate = initiate
	if err := writeCmd(c, 0, zmq4.CmdInitiate, initiate); err != nil {
		return err
	}

	// READY
	name, body, err = readCmd(c)
	if err != nil {
		return err
	}
	if name == zmq4.CmdError {
		s.gotError = errorReason(body)
		return nil
	}
	if name != zmq4.CmdReady || len(body) < readyMinLen {
		return fmt.Errorf("script: got %q of %d bytes for READY", name, len(body))
	}
	key, err := sharedKey(snPub, (*[32]byte)(&cn.Secret))
	if err != nil {
		return err
	}
	readyNonce := binary.BigEndian.Uint64(body[:8])
	if _, ok := box.OpenAfterPrecomputation(nil, body[8:], shortNonce(readyPrefix, readyNonce), key); !ok {
		return errors.New("script: READY does not open")
	}
	s.ready = true
	return s.afterHandshake(c, key, clientPrefix, serverPrefix, initiateNonce)
}

// runServer plays a CURVE server (a ROUTER) holding the permanent key
// pair testServerKP against a client on c.
func (s *script) runServer(c net.Conn) error {
	if _, err := c.Write(testutil.Greeting("CURVE", true)); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, make([]byte, zmtpGreetingLen)); err != nil {
		return err
	}
	name, body, err := readCmd(c)
	if err != nil {
		return err
	}
	if name != zmq4.CmdHello || len(body) != helloBodyLen {
		return fmt.Errorf("script: got %q of %d bytes for HELLO", name, len(body))
	}
	cnPub := pad32(body[74:106])
	if _, ok := box.Open(nil, body[114:], shortNonce(helloPrefix, u64(body[106:114])), cnPub, (*[32]byte)(&testServerKP.Secret)); !ok {
		// As libzmq: a HELLO for another key is answered by closing.
		return nil
	}
	switch s.field {
	case sfErrorAtWelcome:
		return writeCmd(c, 0, zmq4.CmdError, errorBody(string(s.data)))
	case sfCloseAtWelcome:
		return nil
	}
	sn, err := curvekey.Generate()
	if err != nil {
		return err
	}
	snPub := sn.Public
	if s.field == sfWelcomeSn {
		snPub = curvekey.Key(*pad32(s.data))
	}
	// The cookie only has to come back: this script keeps its state.
	cookie := make([]byte, cookieLen)
	welcomeNonce := make([]byte, 16)
	welcomeKey := (*[32]byte)(&testServerKP.Secret)
	if s.field == sfWelcomeKey {
		welcomeKey = pad32(s.data)
	}
	welcome := append(welcomeNonce, box.Seal(nil, append(append([]byte{}, snPub[:]...), cookie...),
		longNonce(welcomePrefix, welcomeNonce), cnPub, welcomeKey)...)
	switch s.field {
	case sfWelcomeRaw:
		welcome = s.data
	case sfWelcomeFlip:
		xorInto(welcome, s.data)
	}
	s.welcome = welcome
	if err := writeCmd(c, 0, zmq4.CmdWelcome, welcome); err != nil {
		return err
	}

	name, body, err = readCmd(c)
	if err != nil {
		return err
	}
	if name != zmq4.CmdInitiate || len(body) < initiateMinLen {
		return fmt.Errorf("script: got %q of %d bytes for INITIATE", name, len(body))
	}
	key, err := sharedKey(cnPub, (*[32]byte)(&sn.Secret))
	if err != nil {
		return err
	}
	initiateNonce := u64(body[cookieLen : cookieLen+8])
	if _, ok := box.OpenAfterPrecomputation(nil, body[cookieLen+8:], shortNonce(initiatePrefix, initiateNonce), key); !ok {
		return errors.New("script: INITIATE does not open")
	}
	switch s.field {
	case sfErrorAtReady:
		return writeCmd(c, 0, zmq4.CmdError, errorBody(string(s.data)))
	case sfCloseAtReady:
		return nil
	}
	readyNonce := uint64(1)
	if s.field == sfReadyNonce {
		readyNonce = u64(s.data)
	}
	meta := scriptMeta("ROUTER")
	if s.field == sfReadyMeta {
		meta = s.data
	}
	ready := binary.BigEndian.AppendUint64(nil, readyNonce)
	ready = box.SealAfterPrecomputation(ready, meta, shortNonce(readyPrefix, readyNonce), key)
	switch s.field {
	case sfReadyRaw:
		ready = s.data
	case sfReadyFlip:
		xorInto(ready, s.data)
	}
	if err := writeCmd(c, 0, zmq4.CmdReady, ready); err != nil {
		return err
	}
	s.ready = true
	return s.afterHandshake(c, key, serverPrefix, clientPrefix, readyNonce)
}

// afterHandshake sends what the field asks for once the handshake is
// done, while draining what the peer sends (its PONGs), then shuts its
// sending side and waits for the peer to close.
func (s *script) afterHandshake(c net.Conn, key *[32]byte, ownPrefix, peerPrefix string, nonce uint64) error {
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, c)
	}()
	defer func() {
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			c.Close()
		}
		<-drained
		c.Close()
	}()
	send := func(n uint64, prefix string, flags byte, payload []byte, mask []byte) error {
		body := append([]byte(messageCommand), binary.BigEndian.AppendUint64(nil, n)...)
		body = box.SealAfterPrecomputation(body, append([]byte{flags}, payload...), shortNonce(prefix, n), key)
		xorInto(body, mask)
		_, err := c.Write(append(appendHeader(nil, 0, len(body)), body...))
		return err
	}
	switch s.field {
	case sfMessages:
		// data: flags, length, payload; repeated.
		d := s.data
		for len(d) >= 2 {
			flags, n := d[0], min(int(d[1]), len(d)-2)
			nonce++
			if err := send(nonce, ownPrefix, flags, d[2:2+n], nil); err != nil {
				return err
			}
			d = d[2+n:]
		}
	case sfMessageNonces:
		for d := s.data; len(d) > 0; d = d[min(8, len(d)):] {
			if err := send(u64(d[:min(8, len(d))]), ownPrefix, 0, []byte("x"), nil); err != nil {
				return err
			}
		}
	case sfMessageReflect:
		if err := send(nonce+1, peerPrefix, 0, s.data, nil); err != nil {
			return err
		}
	case sfMessageFlip:
		if err := send(nonce+1, ownPrefix, 0, []byte("a message of some length"), s.data); err != nil {
			return err
		}
	case sfRawAfter:
		if _, err := c.Write(s.data); err != nil {
			return err
		}
	}
	return nil
}

// scriptResult is what our end made of a scripted peer.
type scriptResult struct {
	openErr error      // Open's error (the handshake)
	peer    string     // Conn.Peer after a handshake
	msgs    [][][]byte // messages ReadMsg returned
	readErr error      // the error that ended ReadMsg
}

// scriptLimits bound what our end reads in these runs.
var scriptLimits = Limits{MaxMessage: 4096, MaxFrames: 16}

// socketPair is a connected pair of unix stream sockets: unlike
// net.Pipe, the kernel buffers what one end writes, as TCP does, so both
// ends may write their greetings at once.
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 1 {
				conns[0].Close()
			}
			return nil, nil, fmt.Errorf("socketpair: %w", err)
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}

// runScript connects a scripted peer to our end, in the role opposite to
// the script's, over a socket pair: server true runs our CURVE server
// (allow as given) against s.runClient, false our CURVE client (with the
// server key serverKey and testClientKP) against s.runServer. It returns
// when both ends are done.
func runScript(s *script, server bool, allow curvekey.AllowList, serverKey curvekey.Key) (scriptResult, error) {
	ours, theirs, err := socketPair()
	if err != nil {
		return scriptResult{}, err
	}
	done := make(chan error, 1)
	go func() {
		var err error
		if server {
			err = s.runClient(theirs)
		} else {
			err = s.runServer(theirs)
		}
		theirs.Close()
		done <- err
	}()
	cfg := Config{Type: zmq4.Router, Mechanism: CurveServer(testServerKP, allow), Limits: scriptLimits, HandshakeTimeout: 10 * time.Second}
	if !server {
		cfg = Config{Type: zmq4.Dealer, Mechanism: CurveClient(serverKey, testClientKP), Limits: scriptLimits, HandshakeTimeout: 10 * time.Second}
	}
	var r scriptResult
	conn, err := Open(ours, cfg, server)
	r.openErr = err
	if err == nil {
		r.peer = conn.Peer()
		for {
			frames, err := conn.ReadMsg()
			if err != nil {
				r.readErr = err
				break
			}
			r.msgs = append(r.msgs, frames)
		}
	}
	ours.Close()
	return r, <-done
}
