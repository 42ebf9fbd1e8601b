package zmtp

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

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

// ZAP status codes (ZeroMQ RFC 27) are the only reasons our ERROR
// commands carry: libzmq reports an ERROR whose reason is exactly one of
// them as ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with that status, and treats
// any other text as an unexplained failure. The detail stays in our log.
const (
	statusAuth     = "400" // the peer's credentials are refused
	statusInternal = "500" // we failed (no randomness, for instance)
)

// maxHandshakeCommand bounds one handshake command: CURVE's INITIATE with
// its metadata is the largest, a few hundred bytes.
const maxHandshakeCommand = 16 << 10

// recvCommand reads one handshake command. ZMTP (RFC 23, 37) makes a
// command a single frame with the COMMAND flag, MORE unset and flag bits
// 7-3 zero, whose body is a name of 1 to 255 bytes and the data; anything
// else is refused before the body is read. zmq4's RecvCmd checks none of
// the flags, so the mechanisms read their commands here.
func recvCommand(r io.Reader) (zmq4.Cmd, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return zmq4.Cmd{}, err
	}
	flags := hdr[0]
	switch {
	case flags&^(flagMore|flagLong|flagCommand) != 0:
		return zmq4.Cmd{}, fmt.Errorf("%w: reserved frame flags %#02x in the handshake", ErrProtocol, flags)
	case flags&flagCommand == 0:
		return zmq4.Cmd{}, fmt.Errorf("%w: a message frame in the handshake (flags %#02x)", ErrProtocol, flags)
	case flags&flagMore != 0:
		return zmq4.Cmd{}, fmt.Errorf("%w: a command frame with MORE set", ErrProtocol)
	}
	size := uint64(hdr[1])
	if flags&flagLong != 0 {
		if _, err := io.ReadFull(r, hdr[2:9]); err != nil {
			return zmq4.Cmd{}, err
		}
		size = binary.BigEndian.Uint64(hdr[1:9])
	}
	if size > maxHandshakeCommand {
		return zmq4.Cmd{}, fmt.Errorf("%w: handshake command of %d bytes", ErrProtocol, size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return zmq4.Cmd{}, err
	}
	if len(body) == 0 || body[0] == 0 || int(body[0]) > len(body)-1 {
		return zmq4.Cmd{}, fmt.Errorf("%w: malformed command name", ErrProtocol)
	}
	n := int(body[0])
	return zmq4.Cmd{Name: string(body[1 : 1+n]), Body: body[1+n:]}, nil
}

// refuse sends an ERROR with a ZAP status code; the connection is closed
// by the caller, which returns the detailed error. A failure to send
// changes nothing: the handshake has failed already.
func refuse(conn *zmq4.Conn, status string) {
	_ = conn.SendCmd(zmq4.CmdError, errorBody(status))
}

// peerError is what an ERROR from the peer during the handshake means: a
// refusal of our credentials unless the peer says it failed itself.
func peerError(body []byte) error {
	reason := errorReason(body)
	if reason == strconv.Quote(statusInternal) {
		return fmt.Errorf("%w: the peer failed the handshake (ERROR %s: internal error)", ErrProtocol, reason)
	}
	return fmt.Errorf("%w: the peer refused our credentials (ERROR %s)", ErrAuth, reason)
}

// sendReady sends our READY, as NULL does and as PLAIN's last step does.
func sendReady(conn *zmq4.Conn) error {
	if err := conn.SendCmd(zmq4.CmdReady, marshalMetadata(conn.Meta)); err != nil {
		return fmt.Errorf("send READY: %w", err)
	}
	return nil
}

func recvReady(conn *zmq4.Conn) error {
	cmd, err := recvCommand(conn)
	if err != nil {
		return fmt.Errorf("receive READY: %w", err)
	}
	switch cmd.Name {
	case zmq4.CmdReady:
	case zmq4.CmdError:
		return peerError(cmd.Body)
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

// errorReason reads an ERROR command's body (reason length, reason),
// quoted for logs.
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
	cmd, err := recvCommand(conn)
	if err != nil {
		return fmt.Errorf("receive WELCOME: %w", err)
	}
	switch cmd.Name {
	case zmq4.CmdWelcome:
	case zmq4.CmdError:
		return peerError(cmd.Body)
	default:
		return fmt.Errorf("%w: expected WELCOME, got %q", ErrProtocol, cmd.Name)
	}
	if err := conn.SendCmd(zmq4.CmdInitiate, marshalMetadata(conn.Meta)); err != nil {
		return fmt.Errorf("send INITIATE: %w", err)
	}
	return recvReady(conn)
}

func (h *plainHandshake) serve(conn *zmq4.Conn) error {
	cmd, err := recvCommand(conn)
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
		refuse(conn, statusAuth)
		return fmt.Errorf("%w: PLAIN user %q presented a wrong secret", ErrAuth, user)
	}
	h.user = user
	if err := conn.SendCmd(zmq4.CmdWelcome, nil); err != nil {
		return fmt.Errorf("send WELCOME: %w", err)
	}
	cmd, err = recvCommand(conn)
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
