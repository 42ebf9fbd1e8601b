//go:build faults

package faults

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"golang.org/x/crypto/nacl/box"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
)

// Helpers of rows 19-1 to 19-10 of the fault table (the adversarial run
// against the previous release, docs/faults.md).

// loopbackSource is the i-th attacker address, 127.0.0.2 and up: the
// proxy counts handshakes and authentication failures per address, and
// every process of the suite connects from 127.0.0.1 unless told, so
// attackers on other loopback addresses are other hosts to the proxy.
func loopbackSource(i int) string { return fmt.Sprintf("127.0.0.%d", 2+i) }

// dialRawFrom is dialRaw from a given local address.
func dialRawFrom(ctx context.Context, src, addr string, timeout time.Duration) (*rawConn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s from %s: %w", addr, src, err)
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	return &rawConn{Conn: c, r: bufio.NewReader(c)}, nil
}

// zmtpDialFrom opens a ZMTP connection from a given local address (the
// client library and mgmt.Call always connect from 127.0.0.1).
func zmtpDialFrom(src, addr string, cfg zmtp.Config, timeout time.Duration) (*zmtp.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: timeout}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s from %s: %w", addr, src, err)
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = timeout
	}
	c, err := zmtp.Open(raw, cfg, false)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("handshake with %s from %s: %w", addr, src, err)
	}
	return c, nil
}

// askOn sends one request on an open DEALER connection (REQ framing: the
// empty delimiter, then the request) and returns the decoded reply.
func askOn(c *zmtp.Conn, req *vpoller.Request, timeout time.Duration) (*vpoller.Response, error) {
	if err := c.WriteMsg([][]byte{{}, req.Encode()}, timeout); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	frames, err := c.ReadMsg()
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	if len(frames) != 2 || len(frames[0]) != 0 {
		return nil, fmt.Errorf("receive: %d frames, not [\"\"][reply]", len(frames))
	}
	return vpoller.DecodeResponse(frames[1])
}

// keygen makes key pairs with a binary's keygen command: base.key and
// base.key_secret for each base.
func (s *scenario) keygen(bin string, bases ...string) {
	s.t.Helper()
	for _, base := range bases {
		s.must(os.MkdirAll(filepath.Dir(base), 0o700), "key directory")
		if out, code, err := runCmd(10*time.Second, bin, "keygen", base); err != nil || code != 0 {
			s.fatalf("%s keygen %s: exit %d %v: %s", bin, base, code, err, out)
		}
	}
}

// loadKeys reads a key pair written by keygen and the server's public key.
func (s *scenario) loadKeys(secretFile, serverPublic string) (curvekey.KeyPair, curvekey.Key) {
	s.t.Helper()
	kp, err := curvekey.LoadKeyPair(secretFile)
	s.must(err, "load "+secretFile)
	srv, err := curvekey.LoadPublic(serverPublic)
	s.must(err, "load "+serverPublic)
	return kp, srv
}

// Weak CURVE public keys: the all-zero key and a point of order 8 (from
// libsodium's list of small-order points). A Diffie-Hellman with either
// gives the all-zero shared secret whatever the other side's secret key.
var (
	zeroKey     curvekey.Key
	lowOrderKey = func() curvekey.Key {
		var k curvekey.Key
		b, _ := hex.DecodeString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
		copy(k[:], b)
		return k
	}()
)

// lowOrderHello is a CURVE HELLO whose transient key C' is the point of
// order 8. Its signature box is sealed with the key every server computes
// for such a C' whatever its secret key (crypto_box_beforenm of an
// all-zero Diffie-Hellman result: nacl/box.Precompute does not refuse
// the point, so it computes exactly that), so a server that does not
// refuse small-order keys opens it and answers WELCOME: the attacker
// needs no secret at all.
func lowOrderHello() []byte {
	var k, anyScalar [32]byte
	anyScalar[0] = 1
	box.Precompute(&k, (*[32]byte)(&lowOrderKey), &anyScalar)
	var nonce [24]byte
	copy(nonce[:16], "CurveZMQHELLO---")
	binary.BigEndian.PutUint64(nonce[16:], 1)
	body := append([]byte{1, 0}, make([]byte, 72)...)
	body = append(body, lowOrderKey[:]...)
	body = binary.BigEndian.AppendUint64(body, 1)
	body = box.SealAfterPrecomputation(body, make([]byte, 64), &nonce, &k)
	return testutil.Command("HELLO", body)
}

// helloWithLowOrderKey plays a CURVE client that offers a low-order
// transient key, from src, and reports what the server answered:
// "ERROR <reason>", "WELCOME" (the key was used), or how the connection
// ended.
func helloWithLowOrderKey(src, addr string) (string, error) {
	c, err := dialRawFrom(context.Background(), src, addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write(append(testutil.Greeting("CURVE", false), lowOrderHello()...)); err != nil {
		return "", fmt.Errorf("send greeting and HELLO: %w", err)
	}
	g := make([]byte, 64)
	if _, err := io.ReadFull(c.r, g); err != nil {
		return "closed before the server's greeting: " + err.Error(), nil
	}
	flags, body, err := c.readFrame()
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		return "closed after HELLO", nil
	case err != nil:
		return "no command after HELLO: " + err.Error(), nil
	case flags&0x04 == 0 || len(body) < 1 || int(body[0]) > len(body)-1:
		return fmt.Sprintf("not a command: flags %#x, %d bytes", flags, len(body)), nil
	}
	name, rest := string(body[1:1+body[0]]), body[1+body[0]:]
	if name == "ERROR" && len(rest) > 0 && int(rest[0]) <= len(rest)-1 {
		return "ERROR " + string(rest[1:1+rest[0]]), nil
	}
	return name, nil
}

// statusSampler polls a proxy's status while a scenario runs and keeps
// the largest figures: what the caps are checked against
// (a single status at the end would miss a peak).
type statusSampler struct {
	px   *daemon
	stop chan struct{}
	done chan struct{}
	// mark, when > 0, makes the sampler note when the budget's used
	// bytes first reached it (markAt).
	mark int64

	mu   sync.Mutex
	peak samplePeak
	last proxyStatus
}

// samplePeak are the largest values a sampler saw.
type samplePeak struct {
	samples, errors int
	held            int
	heldBytes       int
	memUsed         int64
	inflightBytes   int64
	workerInflight  int       // largest in_flight of one worker connection
	markAt          time.Time // when memory used first reached the mark
}

func startSampler(px *daemon, every time.Duration, mark int64) *statusSampler {
	sm := &statusSampler{px: px, stop: make(chan struct{}), done: make(chan struct{}), mark: mark}
	go func() {
		defer close(sm.done)
		sc := &statusConn{d: px}
		defer sc.close()
		for {
			st, err := sc.proxyStatus()
			sm.mu.Lock()
			p := &sm.peak
			p.samples++
			if err != nil {
				p.errors++
			} else {
				sm.last = st
				p.held = max(p.held, st.Held)
				p.heldBytes = max(p.heldBytes, st.HeldBytes)
				p.memUsed = max(p.memUsed, st.Memory.Used)
				if sm.mark > 0 && st.Memory.Used >= sm.mark && p.markAt.IsZero() {
					p.markAt = time.Now()
				}
				p.inflightBytes = max(p.inflightBytes, st.Memory.InflightBytes)
				for _, w := range st.WorkerConns {
					p.workerInflight = max(p.workerInflight, w.InFlight)
				}
			}
			sm.mu.Unlock()
			select {
			case <-sm.stop:
				return
			case <-time.After(every):
			}
		}
	}()
	return sm
}

// now returns the peaks so far and the last status read.
func (sm *statusSampler) now() (samplePeak, proxyStatus) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.peak, sm.last
}

// finish stops the sampler and returns its peaks.
func (sm *statusSampler) finish() samplePeak {
	close(sm.stop)
	<-sm.done
	p, _ := sm.now()
	return p
}

// statusConn asks a daemon's status over one management connection kept
// open (mgmt.Call connects for every call): a sampler under load spends
// its time on the figures, not on handshakes.
type statusConn struct {
	d *daemon
	c *zmtp.Conn
}

func (sc *statusConn) proxyStatus() (proxyStatus, error) {
	var st proxyStatus
	if sc.c == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := zmtp.Dial(ctx, mgmt.Connectable(sc.d.mgmt), zmtp.Config{Type: zmq4.Dealer, Mechanism: sc.d.mech,
			Limits: zmtp.Limits{MaxMessage: 64 << 20}})
		cancel()
		if err != nil {
			return st, err
		}
		sc.c = c
	}
	req, _ := vpoller.Marshal(vpoller.Object{{Key: "method", Value: "status"}}, vpoller.Python)
	err := sc.c.WriteMsg([][]byte{{}, req}, 3*time.Second)
	var frames [][]byte
	if err == nil {
		_ = sc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		frames, err = sc.c.ReadMsg()
	}
	if err == nil && len(frames) == 0 {
		err = errors.New("empty status reply")
	}
	if err != nil {
		sc.close()
		return st, fmt.Errorf("status: %w", err)
	}
	var reply struct {
		Success int             `json:"success"`
		Msg     string          `json:"msg"`
		Result  json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(frames[len(frames)-1], &reply); err != nil {
		return st, fmt.Errorf("status reply: %w", err)
	}
	if reply.Success != 0 {
		return st, fmt.Errorf("status failed: %s", reply.Msg)
	}
	return st, json.Unmarshal(reply.Result, &st)
}

func (sc *statusConn) close() {
	if sc.c != nil {
		sc.c.Close()
		sc.c = nil
	}
}

// failuresRE matches the "failures=N" of the listener's rate-limited
// authentication-failure lines.
var failuresRE = regexp.MustCompile(`connection refused: authentication failed.*?failures=(\d+)`)

// loggedFailures sums the failures counted by the authentication-failure
// lines of one socket in a daemon's log (the failures since the last
// line are counted by the next one, so this is a lower bound).
func loggedFailures(log, socket string) (lines, failures int) {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "socket="+socket) {
			continue
		}
		if m := failuresRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			lines++
			failures += n
		}
	}
	return lines, failures
}

// dealer is the socket type a client of the frontend presents.
var dealer = zmtp.Config{Type: zmq4.Dealer}
