package main

import (
	"log/slog"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
)

// proxyOptions maps vpoller.conf's [proxy] section onto the proxy's
// Options: the proxy reads no file, this main does. Every setting has the
// Options field of the same name except log_file, which this main opens
// itself; TestProxyOptionsMapEverySetting keeps the two lists together.
func proxyOptions(c config.Proxy, log *slog.Logger) proxy.Options {
	return proxy.Options{
		Frontend:               c.Frontend,
		Backend:                c.Backend,
		Mgmt:                   c.Mgmt,
		MaxRequestBytes:        c.MaxRequestBytes,
		MaxReplyBytes:          c.MaxReplyBytes,
		MaxClients:             c.MaxClients,
		MaxWorkers:             c.MaxWorkers,
		MaxHeldRequests:        c.MaxHeldRequests,
		MaxHeldBytes:           c.MaxHeldBytes,
		ClientIdleTimeout:      c.ClientIdleTimeout,
		MaxInflightPerWorker:   c.MaxInflightPerWorker,
		SpillWait:              c.SpillWait,
		Standby:                c.Standby,
		MaxMemory:              c.MaxMemory,
		MaxHandshakes:          c.MaxHandshakes,
		MaxHandshakesPerSource: c.MaxHandshakesPerSource,
		WorkerHeartbeat:        c.WorkerHeartbeat,
		WorkerTimeout:          c.WorkerTimeout,
		FrontendSecurity:       c.FrontendSecurity,
		BackendSecurity:        c.BackendSecurity,
		MgmtSecurity:           c.MgmtSecurity,
		MetricsListen:          c.MetricsListen,
		Logger:                 log,
	}
}
