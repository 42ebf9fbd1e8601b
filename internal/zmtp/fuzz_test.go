package zmtp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/go-zeromq/zmq4"
	"golang.org/x/crypto/nacl/box"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// fixedHello is a valid CURVE HELLO to testServerKP from a fixed
// transient key, so that FuzzHandshake's CURVE seeds get a WELCOME.
func fixedHello() []byte {
	cn := mustKeyPair("3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a")
	hello := append([]byte{1, 0}, make([]byte, 72)...)
	hello = append(hello, cn.Public[:]...)
	hello = binary.BigEndian.AppendUint64(hello, 1)
	hello = box.Seal(hello, make([]byte, 64), shortNonce(helloPrefix, 1), (*[32]byte)(&testServerKP.Public), (*[32]byte)(&cn.Secret))
	return testutil.Command("HELLO", hello)
}

// FuzzHandshake feeds arbitrary bytes to a server end as the whole of
// what a peer sends, under each mechanism: an error is fine, a panic or a
// huge allocation is not.
func FuzzHandshake(f *testing.F) {
	f.Add(byte(0), append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...))
	f.Add(byte(0), append(testutil.Greeting("NULL", false), flagCommand|flagLong, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	f.Add(byte(1), append(testutil.Greeting("PLAIN", false), flagCommand, 15, 5, 'H', 'E', 'L', 'L', 'O', 3, 'a', 'b', 'c', 3, 'x', 'y', 'z'))
	f.Add(byte(2), append(testutil.Greeting("CURVE", false), append([]byte{flagCommand, 200, 5}, append([]byte("HELLO"), make([]byte, 194)...)...)...))
	f.Add(byte(2), append(testutil.Greeting("CURVE", false), fixedHello()...))
	f.Add(byte(2), append(append(testutil.Greeting("CURVE", false), fixedHello()...), testutil.Command("INITIATE", make([]byte, 300))...))
	f.Fuzz(func(t *testing.T, mech byte, stream []byte) {
		m := []Mechanism{Null(), PlainServer("vpoller", "secret"), CurveServer(testServerKP, nil)}[int(mech)%3]
		c, err := Open(newPipeConn(stream), Config{Type: zmq4.Router, Mechanism: m, Limits: Limits{MaxMessage: 4096, Discard: 8192}}, true)
		if err != nil {
			return
		}
		for range 8 {
			if _, err := c.ReadMsg(); err != nil {
				if _, ok := IsTooLarge(err); !ok {
					return
				}
			}
		}
	})
}

// fuzzBudget is a budget that fails the fuzz run when a connection is
// charged more than one chunk beyond the bytes it was given.
type fuzzBudget struct {
	t           *testing.T
	limit, used int64
	input       int64
}

func (b *fuzzBudget) Acquire(n int64) bool {
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	if b.used > b.input+ReadChunk {
		b.t.Fatalf("%d bytes charged for an input of %d", b.used, b.input)
	}
	return true
}

func (b *fuzzBudget) Release(n int64) {
	if b.used -= n; b.used < 0 {
		b.t.Fatalf("released %d bytes more than charged", -b.used)
	}
}

// FuzzReadMsg reads arbitrary frames after a valid NULL handshake, with
// small limits, with limits that make frames span several chunks, and
// with a budget of half the input. Every message returned respects the
// limits and is charged exactly MsgBytes; no more than one chunk beyond
// the input is ever charged; after an error nothing is.
func FuzzReadMsg(f *testing.F) {
	f.Add(frame(true, nil))
	f.Add(append(frame(true, nil), frame(false, []byte(`{"method": "about"}`))...))
	f.Add(append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 1<<40)...))
	f.Add(append(frame(true, bytes.Repeat([]byte("a"), 300)), frame(false, bytes.Repeat([]byte("b"), 300))...))
	f.Add([]byte{flagCommand, 7, 4, 'P', 'I', 'N', 'G', 0, 1})
	f.Add(append(frame(true, []byte("id")), frame(false, bytes.Repeat([]byte("c"), 70_000))...))
	f.Add(append(appendHeader(nil, 0, 150_000), bytes.Repeat([]byte("d"), 50_000)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		stream := append(append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...), data...)
		for _, run := range []struct {
			limits Limits
			budget int64
		}{
			{Limits{MaxMessage: 512, MaxFrames: 8, Discard: 2048}, 1 << 40},
			{Limits{MaxMessage: 200_000, MaxFrames: 8}, 1 << 40},
			{Limits{MaxMessage: 200_000, MaxFrames: 8, Discard: 400_000}, int64(len(data) / 2)},
		} {
			budget := &fuzzBudget{t: t, limit: run.budget, input: int64(len(data))}
			limits := run.limits
			limits.Budget = budget
			c, err := Open(newPipeConn(stream), Config{Type: zmq4.Router, Limits: limits}, true)
			if err != nil {
				t.Fatalf("valid handshake refused: %v", err)
			}
			for {
				frames, err := c.ReadMsg()
				if te, ok := IsTooLarge(err); ok {
					if te.Size <= limits.MaxMessage || te.Size > limits.Discard {
						t.Fatalf("discarded a message of %d bytes (limit %d, discard %d)", te.Size, limits.MaxMessage, limits.Discard)
					}
					if budget.used != 0 {
						t.Fatalf("%d bytes charged after a discarded message", budget.used)
					}
					continue
				}
				if err != nil {
					if budget.used != 0 {
						t.Fatalf("%d bytes charged after %v", budget.used, err)
					}
					break
				}
				total := 0
				for _, fr := range frames {
					total += len(fr)
				}
				if len(frames) == 0 || len(frames) > limits.MaxFrames || int64(total) > limits.MaxMessage {
					t.Fatalf("message of %d frames, %d bytes passed limits %+v", len(frames), total, limits)
				}
				if budget.used != MsgBytes(frames) || MsgBytes(frames) != int64(total) {
					t.Fatalf("%d bytes charged for a message of MsgBytes %d, %d bytes", budget.used, MsgBytes(frames), total)
				}
				budget.Release(MsgBytes(frames))
			}
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(marshalMetadata(zmq4.Metadata{propSocketType: "DEALER"}))
	f.Add([]byte{11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p'})
	f.Add([]byte{1, 'x', 0xff, 0xff, 0xff, 0xff})
	f.Add(metaBody("Socket-Type", "DEALER", "socket-type", "PUB"))
	f.Add(metaBody("X-a b", ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := parseMetadata(b)
		if err != nil {
			return
		}
		total := 0
		for k, v := range md {
			total += 1 + len(k) + 4 + len(v)
			if !validPropertyName(k) {
				t.Fatalf("accepted property name %q", k)
			}
		}
		if total > len(b) {
			t.Fatalf("metadata of %d bytes from %d bytes of input", total, len(b))
		}
	})
}

// FuzzCurveOpen: arbitrary MESSAGE bodies never open (forgery) and never
// panic; a sealed one opens exactly once (no replay).
func FuzzCurveOpen(f *testing.F) {
	key, err := sharedKey((*[32]byte)(&testClientKP.Public), (*[32]byte)(&testServerKP.Secret))
	if err != nil {
		f.Fatal(err)
	}
	send := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
	f.Add(send.seal(nil, curveMore, []byte("hello")))
	f.Add([]byte(messageCommand + "\x00\x00\x00\x00\x00\x00\x00\x05"))
	f.Fuzz(func(t *testing.T, body []byte) {
		recv := newCurveCodec(key, serverPrefix, clientPrefix, 1, 2)
		orig := append([]byte{}, body...)
		if _, _, err := recv.open(body); err == nil {
			// open decrypts in place: the same bytes again must not open.
			if _, _, err := recv.open(orig); err == nil {
				t.Fatal("the same MESSAGE opened twice")
			}
		} else if !bytes.Equal(body, orig) {
			t.Fatal("a MESSAGE that did not open was changed")
		}
	})
}

// serverFields and clientFields are the script fields that change what a
// scripted client (server) sends, for FuzzCurveServer (FuzzCurveClient).
var (
	serverFields = []scriptField{sfNone, sfHelloFlags, sfHelloRaw, sfHelloVersion, sfHelloPadding, sfHelloTransient,
		sfHelloSignature, sfHelloServerKey, sfHelloNonce, sfInitiateRaw, sfInitiateCookie, sfInitiateNonce, sfInitiateClient,
		sfInitiateVouch, sfInitiateMeta, sfInitiateFlip, sfMessages, sfMessageNonces, sfMessageReflect, sfMessageFlip, sfRawAfter}
	clientFields = []scriptField{sfNone, sfErrorAtWelcome, sfCloseAtWelcome, sfWelcomeRaw, sfWelcomeFlip, sfWelcomeKey,
		sfWelcomeSn, sfErrorAtReady, sfCloseAtReady, sfReadyRaw, sfReadyNonce, sfReadyMeta, sfReadyFlip, sfMessages,
		sfMessageNonces, sfMessageReflect, sfMessageFlip, sfRawAfter}
)

func fieldIndex(fields []scriptField, f scriptField) byte {
	for i, g := range fields {
		if g == f {
			return byte(i)
		}
	}
	panic(fmt.Sprintf("field %s not in the list", f))
}

// checkFuzzMessages asserts that what ReadMsg returned respects the
// limits.
func checkFuzzMessages(t *testing.T, r scriptResult) {
	t.Helper()
	for _, m := range r.msgs {
		total := 0
		for _, fr := range m {
			total += len(fr)
		}
		if len(m) == 0 || len(m) > scriptLimits.MaxFrames || int64(total) > scriptLimits.MaxMessage {
			t.Fatalf("message of %d frames, %d bytes passed limits %+v", len(m), total, scriptLimits)
		}
	}
}

// FuzzCurveServer runs our CURVE server (allow-list: the test client's
// key) against a scripted client with fixed keys that puts the fuzzer's
// bytes into one field of its HELLO or INITIATE (inside the boxes when
// the field is there: the signature, the vouch, the metadata), or, after
// the handshake, into its MESSAGE plaintexts (flags and commands
// included), its MESSAGE nonces, or raw frames. The seeds are the cases
// of TestCurveServerRefusals. Whatever the bytes: no panic, messages
// within the limits, and a handshake accepted only for the allowed key,
// vouched for by its owner.
func FuzzCurveServer(f *testing.F) {
	for _, tc := range serverCases {
		who := byte(0)
		if tc.client == testOtherKP {
			who = 1
		}
		f.Add(fieldIndex(serverFields, tc.field), tc.data, who)
	}
	f.Fuzz(func(t *testing.T, field byte, data []byte, who byte) {
		s := &script{field: serverFields[int(field)%len(serverFields)], data: data, client: testClientKP}
		if who%2 == 1 {
			s.client = testOtherKP
		}
		r, _ := runScript(s, true, testAllow, curvekey.Key{})
		checkFuzzMessages(t, r)
		if r.openErr != nil {
			return
		}
		if r.peer != "client.key" {
			t.Fatalf("handshake accepted for %q, not the allowed key", r.peer)
		}
		if s.client != testClientKP {
			t.Fatal("handshake accepted from a client vouching with a key not allowed")
		}
		if !s.ready {
			t.Fatal("our server completed a handshake its client could not complete")
		}
	})
}

// FuzzCurveClient runs our CURVE client against a scripted server with
// fixed keys that puts the fuzzer's bytes into one field of its WELCOME
// or READY, into an ERROR, or, after the handshake, into its MESSAGEs or
// raw frames. The seeds are the cases of TestCurveClientRefusals. No
// panic, messages within the limits, and a handshake completed only with
// the server that holds the configured key's secret.
func FuzzCurveClient(f *testing.F) {
	keys := []curvekey.Key{testServerKP.Public, testOtherKP.Public, lowOrderKey, {}}
	for _, tc := range clientCases {
		sel := byte(0)
		if tc.serverKey != nil {
			for i, k := range keys {
				if k == *tc.serverKey {
					sel = byte(i)
				}
			}
		}
		f.Add(fieldIndex(clientFields, tc.field), tc.data, sel)
	}
	f.Fuzz(func(t *testing.T, field byte, data []byte, sel byte) {
		s := &script{field: clientFields[int(field)%len(clientFields)], data: data}
		serverKey := keys[int(sel)%len(keys)]
		r, _ := runScript(s, false, nil, serverKey)
		checkFuzzMessages(t, r)
		if r.openErr != nil {
			return
		}
		if serverKey != testServerKP.Public {
			t.Fatalf("handshake completed with a server that does not hold the secret of %s", serverKey)
		}
		if s.field == sfWelcomeKey {
			if kp, err := curvekey.FromSecret(curvekey.Key(*pad32(data))); err != nil || kp.Public != testServerKP.Public {
				t.Fatal("handshake completed with a WELCOME not made with the server's secret key")
			}
		}
		if s.field == sfWelcomeSn && curvekey.CheckPublic(curvekey.Key(*pad32(data))) != nil {
			t.Fatal("handshake completed with a weak server transient key")
		}
	})
}
