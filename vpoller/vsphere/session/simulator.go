package session

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"

	// The vAPI simulator registers its handlers (/rest and /api: sessions,
	// tagging, content library) on every simulated vCenter's server.
	_ "github.com/vmware/govmomi/vapi/simulator"
)

// Credentials of an embedded simulator agent configured without a username.
const (
	SimulatorUser     = "user"
	SimulatorPassword = "pass"
)

// Inventory is what an embedded simulator model contains. Object names are
// deterministic (govmomi's vcsim naming), so demos and end-to-end tests of
// other packages can rely on them:
//
// "vpx" (the default, a vCenter): 1 datacenter DC0; 1 cluster DC0_C0 with 3
// hosts DC0_C0_H0..DC0_C0_H2 plus 1 standalone host DC0_H0 (4 hosts); 4 VMs,
// 2 on the standalone host (DC0_H0_VM0, DC0_H0_VM1) and 2 in the cluster's
// pool (DC0_C0_RP0_VM0, DC0_C0_RP0_VM1), all poweredOn; 1 datastore
// LocalDS_0; 2 resource pools, both named "Resources" (the standalone
// host's and the cluster's root pools: a ready-made duplicate name);
// 3 networks: "VM Network", DC0_DVPG0 and the switch's uplink portgroup
// DVS0-DVUplinks-<n>.
//
// It also serves vCenter's vAPI (the REST endpoints /rest and /api, with
// the tagging service), with no categories or tags until a client
// creates them.
//
// "esx" (a standalone ESXi host): 1 datacenter "ha-datacenter", no cluster,
// 1 host "localhost.localdomain", 2 VMs ha-host_VM0 and ha-host_VM1,
// 1 datastore LocalDS_0, 1 resource pool "Resources", 1 network "VM Network".
// Like an ESXi host, it has no vAPI endpoint and no custom fields manager.
type Inventory struct {
	Model       string
	Datacenters int
	Clusters    int
	Hosts       int
	VMs         int
	Datastores  int
	Pools       int
	Networks    int
	// Names of representative objects, for tests and demos.
	Datacenter, Cluster, Host, VM, Datastore string
	// DatastoreURL is the info.url of Datastore (it contains a temporary
	// directory chosen when the simulator starts, so it is only known from
	// a running agent: use a datastore.discover request).
}

// SimulatorInventory returns the documented content of an embedded
// simulator model ("vpx" or "", or "esx"). Tests check it against a
// running simulator.
func SimulatorInventory(model string) Inventory {
	if model == "esx" {
		return Inventory{Model: "esx", Datacenters: 1, Clusters: 0, Hosts: 1, VMs: 2, Datastores: 1, Pools: 1, Networks: 1,
			Datacenter: "ha-datacenter", Host: "localhost.localdomain", VM: "ha-host_VM0", Datastore: "LocalDS_0"}
	}
	return Inventory{Model: "vpx", Datacenters: 1, Clusters: 1, Hosts: 4, VMs: 4, Datastores: 1, Pools: 2, Networks: 3,
		Datacenter: "DC0", Cluster: "DC0_C0", Host: "DC0_C0_H0", VM: "DC0_C0_RP0_VM0", Datastore: "LocalDS_0"}
}

// Simulator is an in-process vCenter/ESXi simulator (govmomi's vcsim)
// serving HTTPS on 127.0.0.1 with its own self-signed certificate. An
// agent reaches it like a vCenter with a self-signed certificate: over
// TLS, with the certificate pinned by thumbprint.
type Simulator struct {
	model      *simulator.Model
	server     *simulator.Server
	user       *url.Userinfo
	Host       string // host:port it listens on
	Thumbprint string // SHA-256 thumbprint of its certificate
}

// createMu serialises simulator.Model.Create (see StartSimulator).
var createMu sync.Mutex

// StartSimulator creates a model ("vpx" or "esx") and starts serving it.
// setup (tests, benchmarks) may adjust the model and the server's TLS
// configuration before the server starts.
func StartSimulator(modelName, user, password string, log *slog.Logger, setup func(*simulator.Model)) (*Simulator, error) {
	var m *simulator.Model
	if modelName == "esx" {
		m = simulator.ESX()
	} else {
		m = simulator.VPX()
	}
	// govmomi's Create writes package state (the license manager's
	// evaluation license) without a lock: two agents' simulators starting
	// at once (a worker told it owns both) must create one at a time.
	createMu.Lock()
	err := m.Create()
	createMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("create %s simulator: %w", modelName, err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.RegisterEndpoints = true // the vAPI (REST) endpoints of a vCenter model
	if setup != nil {
		setup(m) // after TLS is set, so that tests can hook the server's handshakes
	}
	m.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(user, password)}
	s := m.Service.NewServer()
	// The simulator starts serving inside NewServer and offers no hook
	// before that. Nobody knows the ephemeral port before NewServer
	// returns, so this write precedes every connection the server will log
	// about (and the socket I/O orders it for the race detector). Failed
	// handshakes go to our logger at debug level, not to stderr.
	s.Server.Config.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	return &Simulator{model: m, server: s, user: url.UserPassword(user, password), Host: s.URL.Host,
		Thumbprint: soap.ThumbprintSHA256(s.Certificate())}, nil
}

// URL is the simulator's SDK address with its credentials, for a second
// client (tests acting on the simulated vCenter as another user would).
func (s *Simulator) URL() *url.URL {
	u := *s.server.URL
	u.User = s.user
	return &u
}

// Server is the running simulator server (its certificate, for TLS tests).
func (s *Simulator) Server() *simulator.Server { return s.server }

// Model is the simulator's model (its registry, for tests that change the
// simulated inventory server-side).
func (s *Simulator) Model() *simulator.Model { return s.model }

// Close stops serving and removes the model's temporary files.
func (s *Simulator) Close() {
	s.server.Close()
	s.model.Remove()
}
