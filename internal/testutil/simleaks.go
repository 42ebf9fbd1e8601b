package testutil

import "go.uber.org/goleak"

// SimulatorLeaks are what goleak must not count in a package whose tests
// run govmomi's simulator: its per-session idle watchers end with the
// model's context, which the simulator never cancels, and idle HTTP
// connections keep their loops until the transport closes them.
func SimulatorLeaks() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/vmware/govmomi/simulator.SessionIdleWatch.func1"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
}
