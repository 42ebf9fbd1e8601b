package zmtp

import (
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/go-zeromq/zmq4"
)

// Mechanism is a ZMTP security mechanism configured for one socket: NULL,
// PLAIN or CURVE, client or server side.
type Mechanism interface {
	// Name is the mechanism's ZMTP name, for logs.
	Name() string
	newHandshake() handshake
}

// handshake is one connection's run of a mechanism. zmq4.Open drives it
// through zmq4.Security; afterwards it yields the traffic codec and the
// peer's authenticated identity.
type handshake interface {
	zmq4.Security
	codec() codec // nil: frames travel in the clear
	peer() string // authenticated identity ("" under NULL)
}

// codec protects the frames after the handshake (CURVE's MESSAGE boxes).
type codec interface {
	// seal appends the wire body of one frame carrying flags.
	seal(dst []byte, flags byte, frame []byte) []byte
	// sealedLen is the wire body length of a frame of n bytes.
	sealedLen(n int) int
	// open returns the frame and flags a wire body carries.
	open(body []byte) (flags byte, frame []byte, err error)
}

// passThrough is the Encrypt/Decrypt of handshake commands, which travel
// in the clear under every mechanism.
type passThrough struct{}

func (passThrough) Encrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }
func (passThrough) Decrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }

// readyExchange sends our READY and reads the peer's, as NULL does and as
// PLAIN's last step does.
func sendReady(conn *zmq4.Conn) error {
	if err := conn.SendCmd(zmq4.CmdReady, marshalMetadata(conn.Meta)); err != nil {
		return fmt.Errorf("send READY: %w", err)
	}
	return nil
}

func recvReady(conn *zmq4.Conn) error {
	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive READY: %w", err)
	}
	switch cmd.Name {
	case zmq4.CmdReady:
	case zmq4.CmdError:
		return fmt.Errorf("%w: peer said %s", ErrAuth, errorReason(cmd.Body))
	default:
		return fmt.Errorf("%w: expected READY, got %q", ErrProtocol, cmd.Name)
	}
	md, err := parseMetadata(cmd.Body)
	if err != nil {
		return err
	}
	conn.Peer.Meta = md
	return nil
}

// errorReason reads an ERROR command's body (reason length, reason).
func errorReason(body []byte) string {
	if len(body) == 0 || int(body[0]) > len(body)-1 {
		return fmt.Sprintf("%q", body)
	}
	return fmt.Sprintf("%q", body[1:1+int(body[0])])
}

func errorBody(reason string) []byte {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	return append([]byte{byte(len(reason))}, reason...)
}

// ---- NULL ----

// Null is the NULL mechanism: no authentication, no encryption. It is the
// default, and what the original Python vPoller speaks.
func Null() Mechanism { return nullMechanism{} }

type nullMechanism struct{}

func (nullMechanism) Name() string            { return string(zmq4.NullSecurity) }
func (nullMechanism) newHandshake() handshake { return &nullHandshake{} }

type nullHandshake struct{ passThrough }

func (*nullHandshake) Type() zmq4.SecurityType { return zmq4.NullSecurity }
func (*nullHandshake) codec() codec            { return nil }
func (*nullHandshake) peer() string            { return "" }

func (*nullHandshake) Handshake(conn *zmq4.Conn, _ bool) error {
	if err := sendReady(conn); err != nil {
		return err
	}
	return recvReady(conn)
}

// ---- PLAIN ----

// PlainClient presents a user name and password (ZeroMQ RFC 24). PLAIN
// sends them in the clear: use it on loopback or ipc, CURVE elsewhere.
func PlainClient(user, password string) Mechanism {
	return plainMechanism{user: user, password: password}
}

// PlainServer accepts the clients that present exactly user and password.
func PlainServer(user, password string) Mechanism {
	return plainMechanism{server: true, user: user, password: password}
}

type plainMechanism struct {
	server         bool
	user, password string
}

func (plainMechanism) Name() string { return string(zmq4.PlainSecurity) }
func (m plainMechanism) newHandshake() handshake {
	return &plainHandshake{m: m}
}

type plainHandshake struct {
	passThrough
	m    plainMechanism
	user string
}

func (*plainHandshake) Type() zmq4.SecurityType { return zmq4.PlainSecurity }
func (*plainHandshake) codec() codec            { return nil }
func (h *plainHandshake) peer() string          { return h.user }

func (h *plainHandshake) Handshake(conn *zmq4.Conn, _ bool) error {
	if h.m.server {
		return h.serve(conn)
	}
	if len(h.m.user) > 255 || len(h.m.password) > 255 {
		return fmt.Errorf("PLAIN user name and password are limited to 255 bytes")
	}
	hello := []byte{byte(len(h.m.user))}
	hello = append(hello, h.m.user...)
	hello = append(hello, byte(len(h.m.password)))
	hello = append(hello, h.m.password...)
	if err := conn.SendCmd(zmq4.CmdHello, hello); err != nil {
		return fmt.Errorf("send HELLO: %w", err)
	}
	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive WELCOME: %w", err)
	}
	switch cmd.Name {
	case zmq4.CmdWelcome:
	case zmq4.CmdError:
		return fmt.Errorf("%w: peer said %s", ErrAuth, errorReason(cmd.Body))
	default:
		return fmt.Errorf("%w: expected WELCOME, got %q", ErrProtocol, cmd.Name)
	}
	if err := conn.SendCmd(zmq4.CmdInitiate, marshalMetadata(conn.Meta)); err != nil {
		return fmt.Errorf("send INITIATE: %w", err)
	}
	return recvReady(conn)
}

func (h *plainHandshake) serve(conn *zmq4.Conn) error {
	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive HELLO: %w", err)
	}
	if cmd.Name != zmq4.CmdHello {
		return fmt.Errorf("%w: expected HELLO, got %q", ErrProtocol, cmd.Name)
	}
	user, password, ok := splitPlainHello(cmd.Body)
	if !ok {
		return fmt.Errorf("%w: malformed PLAIN HELLO", ErrProtocol)
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(h.m.user)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(h.m.password)) == 1
	if !userOK || !passOK {
		_ = conn.SendCmd(zmq4.CmdError, errorBody("400 wrong user name or secret"))
		return fmt.Errorf("%w: PLAIN user %q presented a wrong secret", ErrAuth, user)
	}
	h.user = user
	if err := conn.SendCmd(zmq4.CmdWelcome, nil); err != nil {
		return fmt.Errorf("send WELCOME: %w", err)
	}
	cmd, err = conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive INITIATE: %w", err)
	}
	if cmd.Name != zmq4.CmdInitiate {
		return fmt.Errorf("%w: expected INITIATE, got %q", ErrProtocol, cmd.Name)
	}
	md, err := parseMetadata(cmd.Body)
	if err != nil {
		return err
	}
	conn.Peer.Meta = md
	return sendReady(conn)
}

func splitPlainHello(b []byte) (user, password string, ok bool) {
	if len(b) < 1 || int(b[0]) > len(b)-1 {
		return "", "", false
	}
	user, b = string(b[1:1+int(b[0])]), b[1+int(b[0]):]
	if len(b) < 1 || int(b[0]) != len(b)-1 {
		return "", "", false
	}
	return user, string(b[1:]), true
}
