// Package agent2 speaks the Zabbix agent 2 loadable-plugin protocol: the
// framing, the Register/Validate/Configure/Start/Export/Terminate handshake
// and the Log message. It knows nothing about what a plugin does, so it reads
// like a tiny SDK: a plugin declares its metrics and implements Exporter
// (and optionally Configurator and Runner), and Run does the rest.
//
// The official SDK module cannot be used here and pins one protocol version;
// this package accepts every version the agents send ("1.0", "6.0.13",
// "6.2.7", "6.4.0"), so one binary serves agents 6.0 through 7.x.
//
// Rules the agents impose and this package enforces (verified on the wire):
// one whole frame per write under a mutex, values always sent as JSON
// strings, Log messages with id 0 and '%' escaped, each Export handled in its
// own goroutine with panics turned into an error for that item only, and the
// process ending only on Terminate or when the agent closes the socket.
package agent2
