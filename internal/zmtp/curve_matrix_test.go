package zmtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/crypto/nacl/box"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

// The codec's in-place seal and open are NaCl's box: what one seals the
// other opens, for every length, and open leaves nothing behind.
func TestCurveCodecMatchesNaCl(t *testing.T) {
	key, err := sharedKey((*[32]byte)(&testServerKP.Public), (*[32]byte)(&testClientKP.Secret))
	if err != nil {
		t.Fatal(err)
	}
	lengths := []int{0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 127, 255, 256, 1000, 70_000}
	for _, n := range lengths {
		frame := make([]byte, n)
		for i := range frame {
			frame[i] = byte(i*7 + n)
		}
		for _, flags := range []byte{0, curveMore, curveCommand} {
			// Ours sealed, NaCl opens.
			send := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
			prefix := []byte("header")
			wire := send.seal(append([]byte{}, prefix...), flags, frame)
			if !bytes.HasPrefix(wire, prefix) || len(wire)-len(prefix) != send.sealedLen(n) {
				t.Fatalf("n=%d: sealed %d bytes after the prefix, sealedLen says %d", n, len(wire)-len(prefix), send.sealedLen(n))
			}
			body := wire[len(prefix):]
			if string(body[:8]) != messageCommand || binary.BigEndian.Uint64(body[8:16]) != 3 {
				t.Fatalf("n=%d: head %q", n, body[:16])
			}
			plain, ok := box.OpenAfterPrecomputation(nil, body[16:], shortNonce(clientPrefix, 3), key)
			if !ok || plain[0] != flags || !bytes.Equal(plain[1:], frame) {
				t.Fatalf("n=%d flags=%d: NaCl does not open our MESSAGE (ok %v)", n, flags, ok)
			}
			// NaCl sealed, ours opens, in place.
			nacl := append([]byte(messageCommand), binary.BigEndian.AppendUint64(nil, 7)...)
			nacl = box.SealAfterPrecomputation(nacl, append([]byte{flags}, frame...), shortNonce(serverPrefix, 7), key)
			recv := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
			gotFlags, got, err := recv.open(nacl)
			if err != nil || gotFlags != flags || !bytes.Equal(got, frame) {
				t.Fatalf("n=%d flags=%d: open = %d, %d bytes, %v", n, flags, gotFlags, len(got), err)
			}
			if n > 0 && unsafe.SliceData(got) != &nacl[messageHeadLen+1] {
				t.Fatalf("n=%d: the frame does not alias the body (a second buffer)", n)
			}
		}
	}
}

// open refuses what RFC 26 and ZMTP refuse, and changes nothing it
// refuses.
func TestCurveCodecRefusals(t *testing.T) {
	key, _ := sharedKey((*[32]byte)(&testServerKP.Public), (*[32]byte)(&testClientKP.Secret))
	seal := func(prefix string, n uint64, plain []byte) []byte {
		b := append([]byte(messageCommand), binary.BigEndian.AppendUint64(nil, n)...)
		return box.SealAfterPrecomputation(b, plain, shortNonce(prefix, n), key)
	}
	good := seal(serverPrefix, 5, []byte("\x00hello"))
	flipped := func(i int) []byte { b := append([]byte{}, good...); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"nonce not above the last", seal(serverPrefix, 1, []byte("\x00x")), "not above 1"},
		{"nonce 0", seal(serverPrefix, 0, []byte("\x00x")), "not above 1"},
		{"our own direction's prefix (reflected)", seal(clientPrefix, 5, []byte("\x00x")), "does not open"},
		{"bit flip in the tag", flipped(16), "does not open"},
		{"bit flip in the ciphertext", flipped(len(good) - 1), "does not open"},
		{"bit flip in the nonce", flipped(15), "does not open"},
		{"not MESSAGE", append([]byte("\x07MASSAGE"), good[8:]...), "not a CURVE MESSAGE"},
		{"too short", good[:32], "not a CURVE MESSAGE"},
		{"no flags byte", seal(serverPrefix, 5, nil), "not a CURVE MESSAGE"},
		{"reserved flag 0x04", seal(serverPrefix, 5, []byte("\x04x")), "reserved CURVE MESSAGE flags 0x04"},
		{"reserved flag 0x80", seal(serverPrefix, 5, []byte("\x80x")), "reserved CURVE MESSAGE flags 0x80"},
		{"command with MORE", seal(serverPrefix, 5, []byte("\x03\x04PING\x00\x00")), "command with MORE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
			orig := append([]byte{}, tc.body...)
			_, _, err := recv.open(tc.body)
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(tc.want, "does not open") && !bytes.Equal(tc.body, orig) {
				t.Fatal("a MESSAGE that does not open was changed")
			}
		})
	}
	// A good one opens once; the same bytes again are a replay.
	recv := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
	replay := append([]byte{}, good...)
	if _, f, err := recv.open(good); err != nil || string(f) != "hello" {
		t.Fatalf("good MESSAGE: %q, %v", f, err)
	}
	if _, _, err := recv.open(replay); err == nil || !strings.Contains(err.Error(), "not above 5") {
		t.Fatalf("replayed MESSAGE: %v", err)
	}
}

var zeroKey = make([]byte, 32)

// metaBody is metadata with the given (name, value) pairs, as written,
// whatever they are.
func metaBody(pairs ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		b = append(b, byte(len(pairs[i])))
		b = append(b, pairs[i]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(pairs[i+1])))
		b = append(b, pairs[i+1]...)
	}
	return b
}

func nonces(ns ...uint64) []byte {
	var b []byte
	for _, n := range ns {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return b
}

// serverCases are scripted clients against our CURVE server (allow-list
// testAllow): every way in the list must fail with the error named, and
// authentication failures, only those, must be told ERROR "400".
var serverCases = []struct {
	name   string
	field  scriptField
	data   []byte
	client curvekey.KeyPair // zero: testClientKP
	kind   error            // nil: the handshake succeeds
	want   string           // in the handshake's error, or in ReadMsg's after it
	msgs   int              // messages ReadMsg returns before its error
	errMsg string           // the ERROR reason the client must get ("" = none)
}{
	{name: "allowed key", field: sfNone},
	{name: "wrong server key", field: sfHelloServerKey, data: testOtherKP.Public[:], kind: ErrAuth, want: "made for another server key", errMsg: `"400"`},
	{name: "low-order transient key", field: sfHelloTransient, data: lowOrderKey[:], kind: ErrAuth, want: "small order", errMsg: `"400"`},
	{name: "all-zero transient key", field: sfHelloTransient, data: zeroKey, kind: ErrAuth, want: "small order", errMsg: `"400"`},
	{name: "HELLO version 2.0", field: sfHelloVersion, data: []byte{2, 0}, kind: ErrProtocol, want: "version 2.0"},
	{name: "HELLO padding not zeros", field: sfHelloPadding, data: []byte{1}, kind: ErrProtocol, want: "padding"},
	{name: "HELLO signature not zeros", field: sfHelloSignature, data: append(make([]byte, 63), 1), kind: ErrProtocol, want: "signature"},
	{name: "HELLO of 199 bytes", field: sfHelloRaw, data: make([]byte, 199), kind: ErrProtocol, want: "expected a CURVE HELLO of 194 bytes"},
	{name: "HELLO with reserved flag bits", field: sfHelloFlags, data: []byte{flagCommand | 0x08}, kind: ErrProtocol, want: "reserved frame flags"},
	{name: "HELLO with MORE", field: sfHelloFlags, data: []byte{flagCommand | flagMore}, kind: ErrProtocol, want: "MORE"},
	{name: "HELLO as a message frame", field: sfHelloFlags, data: []byte{flagMore}, kind: ErrProtocol, want: "message frame"},
	{name: "foreign cookie", field: sfInitiateCookie, data: bytes.Repeat([]byte{7}, cookieLen), kind: ErrProtocol, want: "did not issue"},
	{name: "INITIATE nonce equal to HELLO's", field: sfInitiateNonce, data: nonces(1), kind: ErrProtocol, want: "not above the HELLO's 1"},
	{name: "INITIATE bit flip", field: sfInitiateFlip, data: []byte{0x40}, kind: ErrProtocol, want: "INITIATE box does not open"},
	{name: "INITIATE too short", field: sfInitiateRaw, data: make([]byte, initiateMinLen-1), kind: ErrProtocol, want: "expected a CURVE INITIATE"},
	{name: "bad vouch", field: sfInitiateVouch, data: make([]byte, 64), kind: ErrAuth, want: "did not vouch", errMsg: `"400"`},
	{name: "vouch for another server", field: sfInitiateVouch, data: append(make([]byte, 32), testOtherKP.Public[:]...), kind: ErrAuth, want: "did not vouch", errMsg: `"400"`},
	{name: "impersonation: allowed key announced, vouched by another", field: sfInitiateClient, data: testClientKP.Public[:],
		client: testOtherKP, kind: ErrAuth, want: "did not vouch", errMsg: `"400"`},
	{name: "client key not allowed", client: testOtherKP, kind: ErrAuth, want: "not in the allow-list", errMsg: `"400"`},
	{name: "low-order client key", field: sfInitiateClient, data: lowOrderKey[:], kind: ErrAuth, want: "small order", errMsg: `"400"`},
	{name: "all-zero client key", field: sfInitiateClient, data: zeroKey, kind: ErrAuth, want: "small order", errMsg: `"400"`},
	{name: "metadata name with a space", field: sfInitiateMeta, data: metaBody("Socket Type", "DEALER"), kind: ErrProtocol, want: "property name"},
	{name: "metadata name twice", field: sfInitiateMeta, data: metaBody("Socket-Type", "DEALER", "socket-type", "PUB"), kind: ErrProtocol, want: "given twice"},
	{name: "metadata truncated", field: sfInitiateMeta, data: metaBody("Socket-Type", "DEALER")[:15], kind: ErrProtocol, want: "truncated"},
	{name: "messages", field: sfMessages, data: []byte("\x01\x01a\x00\x01b\x00\x00"), want: "EOF", msgs: 2},
	{name: "PING inside a MESSAGE", field: sfMessages, data: []byte("\x02\x07\x04PING\x00\x00\x00\x01z"), want: "EOF", msgs: 1},
	{name: "replayed MESSAGE", field: sfMessageNonces, data: nonces(3, 3), want: "nonce 3 not above 3", msgs: 1},
	{name: "lower MESSAGE nonce", field: sfMessageNonces, data: nonces(9, 4), want: "nonce 4 not above 9", msgs: 1},
	{name: "MESSAGE nonce not above INITIATE's", field: sfMessageNonces, data: nonces(2), want: "nonce 2 not above 2"},
	{name: "wrong-direction nonce prefix", field: sfMessageReflect, data: []byte("\x00mirror"), want: "does not open"},
	{name: "MESSAGE bit flip", field: sfMessageFlip, data: []byte{0x10}, want: "does not open"},
	{name: "reserved MESSAGE flags", field: sfMessages, data: []byte("\x04\x01a"), want: "reserved CURVE MESSAGE flags"},
	{name: "command with MORE", field: sfMessages, data: []byte("\x03\x07\x04PING\x00\x00"), want: "command with MORE"},
	{name: "clear frame after the handshake", field: sfRawAfter, data: []byte("\x00\x05hello"), want: "not a CURVE MESSAGE"},
}

func TestCurveServerRefusals(t *testing.T) {
	for _, tc := range serverCases {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{field: tc.field, data: tc.data, client: tc.client}
			r, scriptErr := runScript(s, true, testAllow, curvekey.Key{})
			checkScript(t, tc.kind, tc.want, tc.msgs, r, scriptErr)
			if s.gotError != tc.errMsg {
				t.Errorf("the client was told ERROR %s, want %q", s.gotError, tc.errMsg)
			}
		})
	}
}

// checkScript asserts what our end made of a scripted peer.
func checkScript(t *testing.T, kind error, want string, msgs int, r scriptResult, scriptErr error) {
	t.Helper()
	if kind == nil {
		if r.openErr != nil {
			t.Fatalf("handshake failed: %v (script: %v)", r.openErr, scriptErr)
		}
		if len(r.msgs) != msgs {
			t.Errorf("%d messages read, want %d: %v", len(r.msgs), msgs, r.msgs)
		}
		switch {
		case want == "EOF" && !errors.Is(r.readErr, io.EOF):
			t.Errorf("reading ended with %v, want EOF", r.readErr)
		case want != "" && want != "EOF" && (!errors.Is(r.readErr, ErrProtocol) || !strings.Contains(r.readErr.Error(), want)):
			t.Errorf("reading ended with %v, want a protocol error with %q", r.readErr, want)
		}
		return
	}
	if !errors.Is(r.openErr, kind) || !strings.Contains(r.openErr.Error(), want) {
		t.Fatalf("handshake error %v, want %v with %q (script: %v)", r.openErr, kind, want, scriptErr)
	}
	// ErrAuth and ErrProtocol are not both.
	if other := map[error]error{ErrAuth: ErrProtocol, ErrProtocol: ErrAuth}[kind]; errors.Is(r.openErr, other) {
		t.Errorf("%v is also %v", r.openErr, other)
	}
}

// clientCases are scripted servers against our CURVE client (server key
// testServerKP.Public unless serverKey is set).
var clientCases = []struct {
	name      string
	field     scriptField
	data      []byte
	serverKey *curvekey.Key
	kind      error
	want      string
	msgs      int
}{
	{name: "right server", field: sfNone},
	{name: "wrong server key (the server closes)", serverKey: &testOtherKP.Public, kind: ErrAuth, want: "closed the connection after our HELLO"},
	{name: "low-order server key configured", serverKey: &lowOrderKey, kind: ErrAuth, want: "configured server key"},
	{name: "all-zero server key configured", serverKey: &curvekey.Key{}, kind: ErrAuth, want: "configured server key"},
	{name: "ERROR 400 for HELLO", field: sfErrorAtWelcome, data: []byte("400"), kind: ErrAuth, want: `ERROR "400"`},
	{name: "ERROR 500 for HELLO", field: sfErrorAtWelcome, data: []byte("500"), kind: ErrProtocol, want: "internal error"},
	{name: "impostor without the server's secret key", field: sfWelcomeKey, data: testOtherKP.Secret[:], kind: ErrAuth, want: "WELCOME does not open"},
	{name: "WELCOME bit flip", field: sfWelcomeFlip, data: []byte{0x01}, kind: ErrAuth, want: "WELCOME does not open"},
	{name: "WELCOME of 10 bytes", field: sfWelcomeRaw, data: make([]byte, 10), kind: ErrProtocol, want: "expected a CURVE WELCOME"},
	{name: "low-order server transient key", field: sfWelcomeSn, data: lowOrderKey[:], kind: ErrAuth, want: "small order"},
	{name: "all-zero server transient key", field: sfWelcomeSn, data: zeroKey, kind: ErrAuth, want: "small order"},
	{name: "key not allowed (ERROR 400 for INITIATE)", field: sfErrorAtReady, data: []byte("400"), kind: ErrAuth, want: `ERROR "400"`},
	{name: "closed after INITIATE", field: sfCloseAtReady, kind: ErrAuth, want: "in its allow-list"},
	{name: "READY bit flip", field: sfReadyFlip, data: []byte{0x02}, kind: ErrProtocol, want: "READY box does not open"},
	{name: "READY too short", field: sfReadyRaw, data: make([]byte, readyMinLen-1), kind: ErrProtocol, want: "expected a CURVE READY"},
	{name: "READY metadata name", field: sfReadyMeta, data: metaBody("Socket-Type", "ROUTER", "X:bad", ""), kind: ErrProtocol, want: "property name"},
	{name: "messages", field: sfMessages, data: []byte("\x00\x02ok"), want: "EOF", msgs: 1},
	{name: "replayed MESSAGE", field: sfMessageNonces, data: nonces(2, 2), want: "nonce 2 not above 2", msgs: 1},
	{name: "lower MESSAGE nonce", field: sfMessageNonces, data: nonces(7, 6), want: "nonce 6 not above 7", msgs: 1},
	{name: "MESSAGE nonce not above READY's", field: sfMessageNonces, data: nonces(1), want: "nonce 1 not above 1"},
	{name: "wrong-direction nonce prefix", field: sfMessageReflect, data: []byte("\x00mirror"), want: "does not open"},
	{name: "MESSAGE bit flip", field: sfMessageFlip, data: []byte{0x01, 0, 0, 0, 0x80}, want: "does not open"},
	{name: "reserved MESSAGE flags", field: sfMessages, data: []byte("\x10\x01a"), want: "reserved CURVE MESSAGE flags"},
}

func TestCurveClientRefusals(t *testing.T) {
	for _, tc := range clientCases {
		t.Run(tc.name, func(t *testing.T) {
			serverKey := testServerKP.Public
			if tc.serverKey != nil {
				serverKey = *tc.serverKey
			}
			s := &script{field: tc.field, data: tc.data}
			r, scriptErr := runScript(s, false, nil, serverKey)
			checkScript(t, tc.kind, tc.want, tc.msgs, r, scriptErr)
		})
	}
}

// Commands replayed from another connection: a HELLO gets a WELCOME
// (the server keeps no state, RFC 26) but what follows cannot use it; an
// INITIATE carries a cookie this connection did not issue; a WELCOME was
// made for another transient key.
func TestCurveReplays(t *testing.T) {
	first := &script{}
	if r, err := runScript(first, true, testAllow, curvekey.Key{}); r.openErr != nil || err != nil || !first.ready {
		t.Fatalf("first connection: %v, %v", r.openErr, err)
	}
	for _, tc := range []struct {
		name string
		s    *script
	}{
		{"INITIATE replayed after a new HELLO", &script{replayInitiate: first.initiate}},
		{"HELLO and INITIATE replayed", &script{field: sfHelloRaw, data: first.hello, replayInitiate: first.initiate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, scriptErr := runScript(tc.s, true, testAllow, curvekey.Key{})
			checkScript(t, ErrProtocol, "did not issue", 0, r, scriptErr)
			if tc.s.gotError != "" {
				t.Errorf("told ERROR %s", tc.s.gotError)
			}
		})
	}

	server := &script{}
	if r, err := runScript(server, false, nil, testServerKP.Public); r.openErr != nil || err != nil {
		t.Fatalf("first connection as client: %v, %v", r.openErr, err)
	}
	r, scriptErr := runScript(&script{field: sfWelcomeRaw, data: server.welcome}, false, nil, testServerKP.Public)
	checkScript(t, ErrAuth, "WELCOME does not open", 0, r, scriptErr)
}

// Printable case names for the fuzz seeds' failure messages.
func (f scriptField) GoString() string { return fmt.Sprintf("sf(%s)", f) }

// Handshake commands of every mechanism are read with RFC 23's frame
// rules.
func TestRecvCommand(t *testing.T) {
	long := func(flags byte, n uint64, body []byte) []byte {
		return append(binary.BigEndian.AppendUint64([]byte{flags}, n), body...)
	}
	for _, tc := range []struct {
		name  string
		in    []byte
		cmd   string // the command name read, or
		want  string // the error
		bytes int    // body length read
	}{
		{"READY", []byte("\x04\x06\x05READY"), "READY", "", 0},
		{"long command", long(0x06, 7, []byte("\x05HELLOx")), "HELLO", "", 1},
		{"reserved bit 3", []byte("\x0c\x06\x05READY"), "", "reserved frame flags 0x0c", 0},
		{"reserved bit 7", []byte("\x84\x06\x05READY"), "", "reserved frame flags 0x84", 0},
		{"MORE", []byte("\x05\x06\x05READY"), "", "MORE", 0},
		{"message frame", []byte("\x00\x06\x05READY"), "", "message frame", 0},
		{"empty body", []byte("\x04\x00"), "", "malformed command name", 0},
		{"empty name", []byte("\x04\x01\x00"), "", "malformed command name", 0},
		{"name longer than the body", []byte("\x04\x03\x05RE"), "", "malformed command name", 0},
		{"16 KiB + 1", long(0x06, maxHandshakeCommand+1, nil), "", "handshake command of 16385 bytes", 0},
		{"1 EiB", long(0x06, 1<<60, nil), "", "handshake command of", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := recvCommand(bytes.NewReader(tc.in))
			if tc.want != "" {
				if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || cmd.Name != tc.cmd || len(cmd.Body) != tc.bytes {
				t.Fatalf("got %q with %d bytes, %v", cmd.Name, len(cmd.Body), err)
			}
		})
	}
}

func TestMetadataNames(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string // "" = accepted
	}{
		{metaBody("Socket-Type", "DEALER", "Identity", "", "X-Serves", "vc01,vc02", "X-a_b.c+d", "1"), ""},
		{metaBody("Socket Type", "DEALER"), "property name"},
		{metaBody("X-é", ""), "property name"},
		{metaBody("Socket-Type", "DEALER", "SOCKET-TYPE", "PUB"), "given twice"},
		{[]byte{0, 0, 0, 0, 0}, "truncated"},
		{append(metaBody("a", "")[:2], 0x80, 0, 0, 0), "metadata value of 2147483648 bytes"},
	} {
		md, err := parseMetadata(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.want != "" && (!errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v (%v), want %q", tc.in, md, err, tc.want)
		}
	}
	for name, ok := range map[string]bool{"X-Serves": true, "X-a.b_c+d-9": true, "X-": false, "Serves": false,
		"X-a b": false, "X-a:b": false, "X-" + strings.Repeat("a", 253): true, "X-" + strings.Repeat("a", 254): false} {
		if err := checkMetadata(map[string]string{name: "v"}); (err == nil) != ok {
			t.Errorf("checkMetadata(%q) = %v", name, err)
		}
	}
}

// Opening a 4 MiB MESSAGE, and sealing one into a buffer that has room,
// allocates no buffer of the message's size: the box is decrypted (and
// encrypted) where it lies. (The bound, 64 KiB, leaves room for what the
// runtime allocates meanwhile; a second buffer would be 4 MiB.)
func TestCurveCodecInPlaceMemory(t *testing.T) {
	key, _ := sharedKey((*[32]byte)(&testServerKP.Public), (*[32]byte)(&testClientKP.Secret))
	frame := bytes.Repeat([]byte("vsphere "), 512<<10) // 4 MiB
	body := append([]byte(messageCommand), binary.BigEndian.AppendUint64(nil, 9)...)
	body = box.SealAfterPrecomputation(body, append([]byte{0}, frame...), shortNonce(serverPrefix, 9), key)
	recv := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
	send := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
	dst := make([]byte, 0, send.sealedLen(len(frame)))

	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var got []byte
	var err error
	if n := allocated(func() { _, got, err = recv.open(body) }); n > 64<<10 {
		t.Errorf("open allocated %d bytes for a %d-byte message", n, len(frame))
	}
	if err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("open: %v", err)
	}
	var sealed []byte
	if n := allocated(func() { sealed = send.seal(dst, 0, frame) }); n > 64<<10 {
		t.Errorf("seal allocated %d bytes for a %d-byte message", n, len(frame))
	}
	if plain, ok := box.OpenAfterPrecomputation(nil, sealed[16:], shortNonce(clientPrefix, 3), key); !ok || !bytes.Equal(plain[1:], frame) {
		t.Fatal("sealed message does not open")
	}
}
