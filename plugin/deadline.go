package plugin

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// Margin is kept between our deadline and the agent's: the reply must be
// written and read before the agent gives up ("timeout occurred" on 6.0,
// "Timeout ... reached while waiting for response from plugin" on 7.0).
const Margin = 500 * time.Millisecond

// minBudget keeps a request possible when the agent's timeout is tiny.
const minBudget = 200 * time.Millisecond

// defaultAgentTimeout is the agent's own default Timeout, used when
// Configure carried none.
const defaultAgentTimeout = 3 * time.Second

// budget returns how long one Export may take in all. 7.0+ agents send the
// item timeout and wait that plus 0.5 s; we stop Margin before it. 6.0/6.4
// send nothing and wait PluginTimeout (default: the agent's Timeout): we use
// the session's Timeout, else the agent's Timeout minus Margin.
func budget(agentItemTimeout time.Duration, s Session, agentTimeout time.Duration) time.Duration {
	var b time.Duration
	switch {
	case agentItemTimeout > 0:
		b = agentItemTimeout - Margin
	case s.Timeout > 0:
		b = s.Timeout
	default:
		if agentTimeout <= 0 {
			agentTimeout = defaultAgentTimeout
		}
		b = agentTimeout - Margin
	}
	return max(b, minBudget)
}

// policy is how one item's call uses its budget b: Retries attempts, but
// at least one per proxy endpoint of the session (so that every proxy is
// tried once), as long as each attempt keeps at least minBudget/2; each
// attempt gets an even share of what is left (client.Policy.Spread), so a
// proxy that refuses the connection at once leaves its share to the next.
// The client's retry loop does the rest: this is the only place the
// plugin decides anything about retries.
func policy(b time.Duration, s Session) client.Policy {
	attempts := max(s.Retries, 1, endpointCount(s.Endpoint))
	// "When the budget allows": no more attempts than fit at the floor.
	attempts = max(min(attempts, int(b/(minBudget/2))), 1, s.Retries)
	return client.Policy{Attempts: attempts, Timeout: attemptTimeout(b, attempts), Spread: true}
}

// endpointCount is the number of proxies in a validated endpoint list.
func endpointCount(list string) int { return strings.Count(list, ",") + 1 }

// attemptTimeout splits the budget evenly over the attempts, so every
// attempt fits before the deadline.
func attemptTimeout(b time.Duration, retries int) time.Duration {
	if retries < 1 {
		retries = 1
	}
	return max(b/time.Duration(retries), minBudget/2)
}

// noReplyError is the item error when vPoller stayed silent: it names the
// endpoint so the Zabbix user knows which proxy to look at. When no
// attempt could even connect (the proxy is down, the endpoint wrong) it
// says that, with the cause, instead of "no answer": "vPoller proxy
// tcp://127.0.0.1:10123: connection refused (kept trying for 2.5s)".
// With several proxies, or when an attempt met more than silence (the
// proxy closed the connection), it also says what each attempt met (from
// the client's CallError, when err carries one).
func noReplyError(endpoint string, b time.Duration, attempts int, err error) error {
	var ce *client.CallError
	if errors.As(err, &ce) && ce.Unreachable() {
		return fmt.Errorf("%s: is vpoller-proxy running, and listening on that endpoint (Plugins.%s.Endpoint or the key's endpoint parameter)?", ce.Summary(), Name)
	}
	plural := "s"
	if attempts == 1 {
		plural = ""
	}
	var tried string
	if ce != nil && (endpointCount(endpoint) > 1 || !ce.Silent()) {
		if t := ce.Tried(); t != "" {
			tried = ": " + t
		}
	}
	//lint:ignore ST1005 a Zabbix item error, shown to users as is; 7.0 agents capitalise the first letter anyway
	return fmt.Errorf("No answer from vPoller at %s within %s (%d attempt%s%s)", endpoint, roundDuration(b), attempts, plural, tried)
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
