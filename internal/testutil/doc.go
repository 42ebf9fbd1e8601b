// Package testutil is the scaffolding the tests of several packages share:
// free loopback ports, building this module's commands, the python3-zmq
// peer (Debian's libzmq playing the original Python vPoller), and a fake
// vPoller proxy (a real ZeroMQ ROUTER that answers as a test says). It
// imports none of vPoller's own components, so any package's tests can
// use it.
package testutil
