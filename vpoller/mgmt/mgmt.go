// Package mgmt is the management socket of the proxy and the worker: a
// request/reply endpoint that answers {"method": "status"} and
// {"method": "shutdown"} the way the original daemons do, so the original
// `vpoller-proxy -e ... status` tooling keeps working against ours. Unlike
// the original, which died on non-JSON input, every frame gets an answer,
// and shutdown needs an authenticated socket: an ipc:// file (the
// default, mode 0600), or tcp with CURVE or a shared secret. It sits
// under vpoller/, beside the components it serves, because its requests
// and replies are vPoller messages (package vpoller).
package mgmt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Messages of the original management handlers.
const (
	MsgShutdown      = "Shutdown time has arrived"
	MsgMissingMethod = "Missing method name"
	// MsgUnknownMethod is the worker's text; the Python proxy misspells it
	// "Uknown method name received" and the proxy keeps that spelling.
	MsgUnknownMethod = "Unknown method name received"
)

// Options configure a management server.
type Options struct {
	// StatusMsg is the msg of a status reply ("vPoller Proxy status").
	StatusMsg string
	// Status returns the result object of a status reply.
	Status func() vpoller.Object
	// Reload, when set, answers the "reload" method (the worker's
	// vCenters: what SIGHUP does): its result, or its error as a failed
	// reply. Like shutdown it needs an authenticated socket. Nil answers
	// reload as an unknown method.
	Reload func() (vpoller.Object, error)
	// Version, when set, ends every status result ("version"): the
	// daemons give buildinfo.Version().
	Version string
	// UnknownMsg answers unknown methods (default MsgUnknownMethod).
	UnknownMsg string
	// Security authenticates the clients (see ServerSecurity); nil is
	// NULL. Over tcp without it, shutdown is refused (status is not).
	Security zmtp.Mechanism
	Logger   *slog.Logger
}

// Messages of the reload method (ours; the original has none).
const (
	MsgReloaded      = "Reloaded"
	MsgReloadRefused = "Reload refused: this management socket is reached over tcp without authentication; " +
		"use its ipc:// socket, or configure mgmt_curve_secret_key or mgmt_secret_file"
)

// MsgShutdownRefused answers a shutdown over an unauthenticated tcp socket.
const MsgShutdownRefused = "Shutdown refused: this management socket is reached over tcp without authentication; " +
	"use its ipc:// socket, or configure mgmt_curve_secret_key or mgmt_secret_file"

// Server answers management requests until closed.
type Server struct {
	ln            *zmtp.Listener
	opts          Options
	allowShutdown bool
	shutdown      chan struct{}
	once          sync.Once
	cancel        context.CancelFunc
	done          chan struct{}
}

// Listen binds endpoint and serves in the background, on the guarded ZMTP
// layer: any number of REQ (the original tools) or DEALER clients, each
// bounded in message size and handshake time, 64 at once.
func Listen(ctx context.Context, ep string, opts Options) (*Server, error) {
	if opts.UnknownMsg == "" {
		opts.UnknownMsg = MsgUnknownMethod
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Security == nil {
		opts.Security = zmtp.Null()
	}
	if err := RuntimeDir(ep); err != nil {
		return nil, err
	}
	ln, err := zmtp.Listen(ep, zmtp.ListenConfig{
		Config: zmtp.Config{Type: zmq4.Router, Mechanism: opts.Security,
			Limits: zmtp.Limits{MaxMessage: maxRequest}, HandshakeTimeout: 2 * time.Second},
		// Idle or hostile connections are evicted for newcomers, so that
		// status and stop always get through.
		Name: "mgmt", MaxConns: 64, Evict: true, Logger: opts.Logger,
	})
	if err != nil {
		if dir, ok := ipcDir(ep); ok && errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("management socket %s: %w; %s", ep, err, runtimeDirFix(dir, true))
		}
		return nil, fmt.Errorf("management socket %s: %w", ep, err)
	}
	// An ipc socket is authenticated by its file mode (0600: the daemon's
	// user and root); tcp needs a mechanism.
	allow := strings.HasPrefix(ep, "ipc://") || opts.Security.Name() != string(zmq4.NullSecurity)
	if !allow {
		opts.Logger.Warn("management socket is not authenticated: status is answered, shutdown is refused",
			"mgmt", ep, "fix", "use an ipc:// endpoint, mgmt_curve_secret_key or mgmt_secret_file")
	}
	warnExposed(opts.Logger, ep, opts.Security)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{ln: ln, opts: opts, allowShutdown: allow, shutdown: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = ln.Serve(runCtx, s.serveConn)
	}()
	return s, nil
}

// warnExposed warns, as the proxy does for a frontend or backend
// reachable from other hosts without CURVE, about management sockets
// whose protection does not hold beyond this host: PLAIN sends its shared
// secret in the clear (whoever reads it on the network can stop the
// daemon), and CURVE with mgmt_curve_allow = * lets any key in.
func warnExposed(log *slog.Logger, ep string, mech zmtp.Mechanism) {
	switch {
	case mech.Name() == string(zmq4.PlainSecurity) && endpoint.Exposed(ep):
		log.Warn("management socket reachable from other hosts with PLAIN: its shared secret crosses the network "+
			"in the clear, and whoever reads it can stop the daemon",
			"mgmt", ep, "fix", "bind mgmt to 127.0.0.1 or an ipc:// socket, or use mgmt_curve_secret_key instead of mgmt_secret_file")
	case zmtp.AcceptsAnyKey(mech):
		log.Warn("management socket accepts any CURVE client key (mgmt_curve_allow = *): whoever reaches it can stop the daemon",
			"mgmt", ep, "fix", "list the keys allowed in mgmt_curve_allow, or leave it unset to allow the daemon's own key only")
	}
}

// maxRequest bounds a management request: {"method": "status"} and the like.
const maxRequest = 64 << 10

// Addr is the bound address (useful with port 0 in tests).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Endpoint is the bound address as a dialable endpoint.
func (s *Server) Endpoint() string { return s.ln.Endpoint() }

// ShutdownRequested is closed after a shutdown request has been answered.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdown }

// Close stops serving and waits for every connection to end.
func (s *Server) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// serveConn answers one client's requests, each reply on the envelope its
// request came with (REQ: the empty delimiter; DEALER: none).
func (s *Server) serveConn(_ context.Context, c *zmtp.Conn) {
	var answering atomic.Bool
	c.SetBusy(answering.Load)
	for {
		frames, err := c.ReadMsg()
		if err != nil {
			return
		}
		if len(frames) == 0 {
			continue
		}
		answering.Store(true)
		reply, stop := s.answer(frames[len(frames)-1])
		out := append(append([][]byte{}, frames[:len(frames)-1]...), reply)
		err = c.WriteMsg(out, 5*time.Second)
		answering.Store(false)
		if err != nil {
			s.opts.Logger.Warn("management reply not sent", "peer", c.RemoteAddr(), "err", err)
			return
		}
		if stop {
			s.once.Do(func() { close(s.shutdown) })
		}
	}
}

// answer handles one request frame.
func (s *Server) answer(body []byte) (reply []byte, shutdown bool) {
	v, err := vpoller.DecodeValue(body)
	obj, isObj := v.(vpoller.Object)
	if err != nil || !isObj {
		return vpoller.Fail(vpoller.MsgInvalidMessage).Encode(vpoller.PythonASCII), false
	}
	method, _ := obj.Get("method")
	name, _ := method.(string)
	switch name {
	case "":
		return vpoller.Fail(MsgMissingMethod).Encode(vpoller.PythonASCII), false
	case "status":
		var result vpoller.Object
		if s.opts.Status != nil {
			result = s.opts.Status()
		}
		if s.opts.Version != "" {
			// Last, after the original's fields and ours: which build
			// runs (an upgraded package whose daemon was not restarted
			// shows the old one).
			result = append(result, vpoller.Field{Key: "version", Value: s.opts.Version})
		}
		return vpoller.OK(s.opts.StatusMsg, result).Encode(vpoller.Python), false
	case "reload":
		if s.opts.Reload == nil {
			return vpoller.Fail(s.opts.UnknownMsg).Encode(vpoller.PythonASCII), false
		}
		if !s.allowShutdown {
			s.opts.Logger.Warn("reload refused: unauthenticated management socket")
			return vpoller.Fail(MsgReloadRefused).Encode(vpoller.PythonASCII), false
		}
		s.opts.Logger.Info("reload requested on the management socket")
		result, err := s.opts.Reload()
		if err != nil {
			return vpoller.Failf("Reload failed: %v", err).Encode(vpoller.PythonASCII), false
		}
		return vpoller.OK(MsgReloaded, result).Encode(vpoller.Python), false
	case "shutdown":
		if !s.allowShutdown {
			s.opts.Logger.Warn("shutdown refused: unauthenticated management socket")
			return vpoller.Fail(MsgShutdownRefused).Encode(vpoller.PythonASCII), false
		}
		s.opts.Logger.Info("shutdown requested on the management socket")
		return vpoller.OK(MsgShutdown, nil).Encode(vpoller.Python), true
	default:
		return vpoller.Fail(s.opts.UnknownMsg).Encode(vpoller.PythonASCII), false
	}
}

// ErrNoReply is returned by Call when the daemon did not answer in time.
var ErrNoReply = errors.New("no reply from the management socket")

// Call sends one management request ({"method": method}) with the given
// mechanism (nil: NULL) and returns the reply frame, within timeout.
func Call(ctx context.Context, ep, method string, timeout time.Duration, mech zmtp.Mechanism) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := zmtp.Dial(ctx, ep, zmtp.Config{Type: zmq4.Req, Mechanism: mech, HandshakeTimeout: timeout,
		Limits: zmtp.Limits{MaxMessage: 64 << 20}})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s after %s: %w (%v)", ep, timeout, ErrNoReply, err)
		}
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	req, _ := vpoller.Marshal(vpoller.Object{{Key: "method", Value: method}}, vpoller.Python)
	if err := c.WriteMsg([][]byte{{}, req}, timeout); err != nil {
		return nil, fmt.Errorf("send to %s: %w", ep, err)
	}
	frames, err := c.ReadMsg()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s after %s: %w", ep, timeout, ErrNoReply)
		}
		return nil, fmt.Errorf("receive from %s: %w", ep, err)
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("%s: empty reply", ep)
	}
	return frames[len(frames)-1], nil
}

// Command runs a daemon's management command line, "status" or "stop",
// against endpoint and returns the reply frame. Both daemons offer the
// same two commands, so their mains share this.
func Command(ctx context.Context, ep, cmd string, timeout time.Duration, mech zmtp.Mechanism) ([]byte, error) {
	method, ok := map[string]string{"status": "status", "stop": "shutdown", "reload": "reload"}[cmd]
	if !ok {
		return nil, fmt.Errorf("unknown management command %q (want status, stop or reload)", cmd)
	}
	return Call(ctx, Connectable(ep), method, timeout, mech)
}

// CommandLine is `status` and `stop` of both daemons' command lines: it
// authenticates as sec says, prints the reply on stdout, and returns the
// exit status: 1, with the cause on stderr, when the daemon cannot be
// reached or refuses (an unauthenticated stop).
func CommandLine(ctx context.Context, prog, ep, cmd string, timeout time.Duration, sec config.Security, stdout, stderr io.Writer) int {
	return RunCommand(ctx, CommandOptions{Prog: prog, Endpoint: ep, Cmd: cmd, Timeout: timeout, Security: sec}, stdout, stderr)
}

// CommandOptions are a status or stop command line's.
type CommandOptions struct {
	Prog, Endpoint, Cmd string
	Timeout             time.Duration
	// Security is the configuration's mgmt_* settings: what the client
	// presents.
	Security config.Security
	// Pretty prints the reply as indented JSON.
	Pretty bool
	// Fallback is an endpoint tried, without credentials, when Endpoint
	// cannot be reached: the built-in ipc:// socket, where a daemon
	// started before the configuration moved mgmt elsewhere still
	// listens. Tried only when its socket file exists; "" for none. Set
	// it only for the system's own configuration file: with another one
	// the built-in socket may be another daemon's.
	Fallback string
}

// RunCommand runs a status or stop command line (see CommandLine). When
// the daemon cannot be reached with the configuration's credentials it
// tries what a daemon started from an earlier configuration may still
// use, saying so on stderr: the same ipc:// socket without credentials
// (the mgmt secret or key was added since), then o.Fallback (mgmt was
// moved to tcp since). An ipc:// socket is protected by its file mode
// alone, so no credential is needed there.
func RunCommand(ctx context.Context, o CommandOptions, stdout, stderr io.Writer) int {
	mech, err := ClientSecurity(o.Security)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", o.Prog, o.Cmd, err)
		return 1
	}
	type attempt struct {
		ep   string
		mech zmtp.Mechanism
		why  string
	}
	tries := []attempt{{ep: o.Endpoint, mech: mech}}
	if strings.HasPrefix(o.Endpoint, "ipc://") && mech.Name() != string(zmq4.NullSecurity) {
		tries = append(tries, attempt{o.Endpoint, zmtp.Null(), "without the configured credentials (the daemon may have started before they were set)"})
	}
	if fb := o.Fallback; fb != "" && fb != o.Endpoint {
		if path, ok := strings.CutPrefix(fb, "ipc://"); ok {
			if st, err := os.Stat(path); err == nil && st.Mode().Type() == fs.ModeSocket {
				tries = append(tries, attempt{fb, zmtp.Null(), "the built-in management socket (the daemon may have started before mgmt was changed)"})
			}
		}
	}
	var reply []byte
	for i, t := range tries {
		if i > 0 {
			fmt.Fprintf(stderr, "%s: %s: trying %s, %s\n", o.Prog, o.Cmd, t.ep, t.why)
		}
		reply, err = Command(ctx, t.ep, o.Cmd, o.Timeout, t.mech)
		if err == nil {
			break
		}
		fmt.Fprintf(stderr, "%s: %s: %v\n", o.Prog, o.Cmd, err)
	}
	if err != nil {
		return 1
	}
	if o.Pretty {
		var b bytes.Buffer
		if json.Indent(&b, reply, "", "  ") == nil {
			reply = b.Bytes()
		}
	}
	fmt.Fprintf(stdout, "%s\n", reply)
	if r, err := vpoller.DecodeResponse(reply); err != nil || r.Failed() {
		return 1
	}
	return 0
}

// ServerSecurity is the mechanism a daemon's management socket uses for
// its [proxy]/[worker] mgmt_* settings. The daemon's own CURVE key is
// always allowed, so that whoever can read its secret certificate can run
// status and stop (see ClientSecurity).
func ServerSecurity(sec config.Security) (zmtp.Mechanism, string, error) {
	return zmtp.ServerMechanism(zmtp.ServerSettings{CurveSecretKey: sec.CurveSecretKey, CurveAllow: sec.CurveAllow,
		SecretFile: sec.SecretFile, AllowSelf: true})
}

// ClientSecurity is what `status` and `stop` present to a daemon's
// management socket configured with sec: the shared secret, or the
// daemon's own CURVE key pair (readable by root and the daemon's user).
func ClientSecurity(sec config.Security) (zmtp.Mechanism, error) {
	switch {
	case sec.CurveSecretKey != "":
		kp, err := curvekey.LoadKeyPair(sec.CurveSecretKey)
		if err != nil {
			return nil, err
		}
		return zmtp.CurveClient(kp.Public, kp), nil
	case sec.SecretFile != "":
		secret, err := zmtp.ReadSecretFile(sec.SecretFile)
		if err != nil {
			return nil, err
		}
		return zmtp.PlainClient(zmtp.SecretUser, secret), nil
	}
	return zmtp.Null(), nil
}

// Connectable turns a bind endpoint into one a client can connect to: a
// daemon configured to listen on every interface (tcp://*:9999) is reached
// on loopback.
func Connectable(endpoint string) string {
	return strings.Replace(endpoint, "://*:", "://127.0.0.1:", 1)
}

// RuntimeDir creates the directory of an ipc:// endpoint when it is
// missing (mode 0750: the daemon's user and group), as systemd's
// RuntimeDirectory= does for the shipped units, so that a daemon started
// by hand as its own user finds /run/vpoller. When it cannot (only root
// may create a directory in /run), the error says the command that does.
// Other endpoints need nothing.
func RuntimeDir(ep string) error {
	dir, ok := ipcDir(ep)
	if !ok {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("management socket %s: cannot create its directory: %w; %s", ep, err, runtimeDirFix(dir, false))
		}
		return fmt.Errorf("management socket %s: cannot create its directory: %w", ep, err)
	}
	return nil
}

// ipcDir is the directory of an ipc:// endpoint's socket file.
func ipcDir(ep string) (string, bool) {
	path, ok := strings.CutPrefix(ep, "ipc://")
	if !ok || path == "" {
		return "", false
	}
	return filepath.Dir(path), true
}

// runtimeDirFix says how to give the daemon's user its runtime directory:
// create it (missing), or hand it over (there, but not writable, as after
// a start as root).
func runtimeDirFix(dir string, exists bool) string {
	owner, group := "vpoller", "vpoller"
	if u, err := user.Current(); err == nil && u.Username != "" && u.Uid != "0" {
		owner, group = u.Username, u.Username
		if g, err := user.LookupGroupId(u.Gid); err == nil {
			group = g.Name
		}
	}
	if exists {
		return fmt.Sprintf("user %s may not write in %s: as root run chown %s:%s %s (a start as root leaves it root's), or set mgmt to an ipc:// path user %s may write",
			owner, dir, owner, group, dir, owner)
	}
	return fmt.Sprintf("user %s may not create %s: as root run install -d -m 0750 -o %s -g %s %s (the shipped systemd units have it created), or set mgmt to an ipc:// path user %s may write",
		owner, dir, owner, group, dir, owner)
}
