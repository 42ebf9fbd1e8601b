//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
)

// freePort returns a loopback port that was free a moment ago.
func (s *scenario) freePort() int {
	return testutil.FreePort(s.t)
}

func tcpEP(port int) string { return fmt.Sprintf("tcp://127.0.0.1:%d", port) }

// hostPort is the host:port of a tcp:// endpoint.
func hostPort(ep string) string { return strings.TrimPrefix(ep, "tcp://") }

// mgmtSecret is the scenario's management secret (at least 32 bytes, as
// secret files must be).
func (s *scenario) mgmtSecret() string { return "faults-management-secret-of-scenario-" + s.id }

// secretFile writes the scenario's management secret (mode 0600) once.
func (s *scenario) secretFile() string {
	return s.writeFile("mgmt.secret", s.mgmtSecret()+"\n", 0o600)
}

// daemon is a running vpoller-proxy or vpoller-worker with its
// configuration file and management endpoint.
type daemon struct {
	*proc
	s        *scenario
	kind     string // "proxy" or "worker"
	bin      string
	args     []string
	conf     string
	mgmt     string
	mech     zmtp.Mechanism // what status/stop present to mgmt
	front    string         // proxy only
	back     string         // proxy only
	restarts int
}

// proxySpec configures startProxy. Zero value: tcp ports chosen now and
// a tcp management socket with a shared secret (so that stop works and
// the socket can be attacked over tcp).
type proxySpec struct {
	mgmt     string // management endpoint; "" = tcp with the secret file
	noSecret bool   // no mgmt_secret_file
	// secretFile, when set, is the mgmt_secret_file to use (one made by
	// keygen -secret) instead of the scenario's own.
	secretFile string
	extra      []string // more [proxy] lines
	debug      bool
}

// startProxy writes a configuration and starts vpoller-proxy on it.
func (s *scenario) startProxy(name string, spec proxySpec) *daemon {
	s.t.Helper()
	d := &daemon{s: s, kind: "proxy", bin: bins.proxy, front: tcpEP(s.freePort()), back: tcpEP(s.freePort())}
	secretLine := s.setupMgmtWith(d, spec.mgmt, spec.noSecret, spec.secretFile)
	lines := []string{"[proxy]", "frontend = " + d.front, "backend = " + d.back, "mgmt = " + d.mgmt}
	if secretLine != "" {
		lines = append(lines, secretLine)
	}
	s.launch(d, name, append(lines, spec.extra...), spec.debug)
	d.waitUp()
	return d
}

// setupMgmt gives d its management endpoint (mgmtEP, or tcp on a free
// port) and, unless noSecret, a shared secret file: it returns the
// configuration line naming the file ("" without) and sets d's client
// mechanism to match.
func (s *scenario) setupMgmt(d *daemon, mgmtEP string, noSecret bool) string {
	s.t.Helper()
	return s.setupMgmtWith(d, mgmtEP, noSecret, "")
}

// setupMgmtWith is setupMgmt with a given secret file ("": the
// scenario's own).
func (s *scenario) setupMgmtWith(d *daemon, mgmtEP string, noSecret bool, secret string) string {
	s.t.Helper()
	d.mgmt, d.mech = mgmtEP, zmtp.Null()
	if d.mgmt == "" {
		d.mgmt = tcpEP(s.freePort())
	}
	if noSecret {
		return ""
	}
	if secret == "" {
		secret = s.secretFile()
	}
	var err error
	d.mech, err = mgmt.ClientSecurity(config.Security{SecretFile: secret})
	s.must(err, "management client security")
	return "mgmt_secret_file = " + secret
}

// launch writes d's configuration lines and starts the daemon on it.
func (s *scenario) launch(d *daemon, name string, lines []string, debug bool) {
	s.t.Helper()
	d.conf = s.writeFile(name+".conf", strings.Join(lines, "\n")+"\n", 0o600)
	d.args = []string{"-f", d.conf}
	if debug {
		d.args = append(d.args, "-d")
	}
	d.args = append(d.args, "start")
	d.proc = s.spawn(name, d.bin, d.args, spawnOpts{dir: s.dir})
}

// workerSpec configures startWorker.
type workerSpec struct {
	proxy    string     // the proxy's backend endpoint
	vcenters []*vcenter // per-vCenter files
	timeout  int        // per-vCenter call timeout, seconds (0: default)
	extra    []string   // more [worker] lines
	debug    bool
	noWait   bool   // do not wait for status (a worker that cannot start)
	mgmt     string // management endpoint; "" = tcp with the secret file
	noSecret bool   // no mgmt_secret_file
}

// startWorker writes a configuration with its vsphere.d directory and
// starts vpoller-worker on it, management over tcp with a shared secret.
func (s *scenario) startWorker(name string, spec workerSpec) *daemon {
	s.t.Helper()
	d := &daemon{s: s, kind: "worker", bin: bins.worker}
	secretLine := s.setupMgmt(d, spec.mgmt, spec.noSecret)
	hosts := name + "-vsphere.d"
	for _, v := range spec.vcenters {
		s.writeFile(hosts+"/"+v.name+".conf", v.agentFile(spec.timeout), 0o600)
	}
	if len(spec.vcenters) == 0 {
		s.must(os.MkdirAll(s.path(hosts), 0o700), "vsphere.d")
	}
	lines := []string{"[worker]", "proxy = " + spec.proxy, "mgmt = " + d.mgmt, secretLine, "vsphere_hosts_dir = " + hosts}
	s.launch(d, name, append(lines, spec.extra...), spec.debug)
	if !spec.noWait {
		d.waitUp()
	}
	return d
}

// waitUp waits until the management socket answers status.
func (d *daemon) waitUp() {
	d.s.t.Helper()
	var last error
	ok, _ := until(15*time.Second, 50*time.Millisecond, func() bool {
		if !d.alive() {
			return true
		}
		_, last = d.statusRaw(time.Second)
		return last == nil
	})
	if !ok || !d.alive() {
		d.s.fatalf("%s did not come up (last status error: %v); output:\n%s", d.name, last, tail(d.output(), 2000))
	}
}

// restart starts the daemon again on the same configuration (same ports).
func (d *daemon) restart() {
	d.s.t.Helper()
	d.restarts++
	d.proc = d.s.spawn(fmt.Sprintf("%s-restart%d", strings.SplitN(d.name, "-restart", 2)[0], d.restarts), d.bin, d.args, spawnOpts{dir: d.s.dir})
}

// statusRaw asks the management socket for status, within timeout.
func (d *daemon) statusRaw(timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return mgmt.Call(ctx, d.mgmt, "status", timeout, d.mech)
}

// connStats are a listener's counters in the proxy's status.
type connStats struct {
	Active            int `json:"active"`
	Accepted          int `json:"accepted"`
	Refused           int `json:"refused"`
	HandshakeFailed   int `json:"handshake_failed"`
	AuthFailed        int `json:"auth_failed"`
	AuthDelayed       int `json:"auth_delayed"`
	AcceptErrors      int `json:"accept_errors"`
	Evicted           int `json:"evicted"`
	Handshakes        int `json:"handshakes"`
	HandshakesEvicted int `json:"handshakes_evicted"`
	Queued            int `json:"queued"`
	QueuedTotal       int `json:"queued_total"`
	QueueExpired      int `json:"queue_expired"`
	QueueEvicted      int `json:"queue_evicted"`
}

// memoryStats is the proxy's memory budget in its status (bytes).
type memoryStats struct {
	Limit         int64 `json:"limit"`
	Used          int64 `json:"used"`
	Requests      int64 `json:"requests"`
	HeldBytes     int64 `json:"held_bytes"`
	InflightBytes int64 `json:"in_flight_bytes"`
	RepliesQueued int64 `json:"replies_queued"`
	Reading       int64 `json:"reading"`
}

// workerConnStats is one worker connection in the proxy's status.
type workerConnStats struct {
	ID       string `json:"id"`
	Remote   string `json:"remote"`
	InFlight int    `json:"in_flight"`
	Limit    int    `json:"limit"`
}

// proxyStatus is the part of the proxy's status the suite reads.
type proxyStatus struct {
	Status          string            `json:"status"`
	Workers         int               `json:"workers"`
	Outstanding     int               `json:"outstanding"`
	Served          int               `json:"served"`
	Redispatched    int               `json:"redispatched"`
	Held            int               `json:"held"`
	HeldBytes       int               `json:"held_bytes"`
	RefusedHeldFull int               `json:"refused_held_full"`
	LostTwice       int               `json:"lost_twice"`
	TooLarge        int               `json:"too_large"`
	Frontend        connStats         `json:"frontend_connections"`
	Backend         connStats         `json:"backend_connections"`
	SilentDropped   int               `json:"workers_silent_dropped"`
	Spilled         int               `json:"spilled"`
	Expired         int               `json:"expired"`
	Memory          memoryStats       `json:"memory"`
	WorkerConns     []workerConnStats `json:"worker_connections"`
	VCenters        map[string]struct {
		Owner   string `json:"owner"`
		Standby string `json:"standby"`
		Routed  int    `json:"routed"`
	} `json:"vcenters"`
}

// laneStatus is one vCenter's bulkhead in the worker's status.
type laneStatus struct {
	Circuit           string `json:"circuit"`
	OK                int    `json:"ok"`
	FailedUnreachable int    `json:"failed_unreachable"`
	FailedFast        int    `json:"failed_fast"`
}

// workerStatus is the part of the worker's status the suite reads.
type workerStatus struct {
	Status    string `json:"status"`
	Requests  int    `json:"requests"`
	Connected bool   `json:"connected"`
	VSphere   struct {
		SOAPCalls int `json:"soap_calls"`
		Logins    int `json:"logins"`
		Agents    map[string]struct {
			Mirror      string `json:"mirror"`
			Role        string `json:"role"`
			FirstSyncMS int    `json:"first_sync_ms"`
			Syncs       int    `json:"syncs"`
		} `json:"agents"`
	} `json:"vsphere"`
	Lanes map[string]laneStatus `json:"lanes"`
	Roles map[string]string     `json:"roles"`
}

// status decodes the daemon's status result into dst.
func (d *daemon) status(dst any) error {
	raw, err := d.statusRaw(3 * time.Second)
	if err != nil {
		return err
	}
	var reply struct {
		Success int             `json:"success"`
		Msg     string          `json:"msg"`
		Result  json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("status reply %q: %w", raw, err)
	}
	if reply.Success != 0 {
		return fmt.Errorf("status failed: %s", reply.Msg)
	}
	return json.Unmarshal(reply.Result, dst)
}

func (d *daemon) proxyStatus() (proxyStatus, error) {
	var st proxyStatus
	err := d.status(&st)
	return st, err
}

func (d *daemon) workerStatus() (workerStatus, error) {
	var st workerStatus
	err := d.status(&st)
	return st, err
}

// mustProxyStatus is proxyStatus that stops the scenario on an error.
func (d *daemon) mustProxyStatus() proxyStatus {
	d.s.t.Helper()
	st, err := d.proxyStatus()
	d.s.must(err, d.name+" status")
	return st
}

func (d *daemon) mustWorkerStatus() workerStatus {
	d.s.t.Helper()
	st, err := d.workerStatus()
	d.s.must(err, d.name+" status")
	return st
}

// mustSeeWorkers fails the scenario unless the proxy counts n connected
// workers within the time given; what names them in the failure.
func (d *daemon) mustSeeWorkers(n int, within time.Duration, what string) {
	d.s.t.Helper()
	if ok, _ := d.waitWorkers(n, within); !ok {
		d.s.fatalf("the proxy does not see %s", what)
	}
}

// waitWorkers waits until the proxy counts n connected workers.
func (d *daemon) waitWorkers(n int, within time.Duration) (bool, time.Duration) {
	return until(within, 20*time.Millisecond, func() bool {
		st, err := d.proxyStatus()
		return err == nil && st.Workers >= n
	})
}
