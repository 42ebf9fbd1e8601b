package plugin

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// DefaultEndpoint is the original vPoller proxy's client endpoint, on
// loopback (where the agent and the proxy usually share a host).
const DefaultEndpoint = "tcp://127.0.0.1:10123"

// Limits of the numeric options.
const (
	maxTimeoutSeconds = 600 // the largest item timeout of Zabbix 7.0
	maxRetries        = 10
	maxPoolSize       = 1000
	defaultRetries    = 1
	defaultPoolSize   = client.DefaultPoolSize
)

// Session is where and how to reach vPoller: one proxy, or several
// proxies' frontends tried in turn.
type Session struct {
	Name string // "" for the default session
	// Endpoint is one proxy frontend or a comma-separated list of them
	// (tidied: no spaces), as client.New takes it.
	Endpoint string
	// Timeout is the time budget of one request when the agent does not
	// send one (agents 6.0-6.4). Zero: the agent's Timeout minus a margin.
	Timeout time.Duration
	// Retries is the total number of attempts within the budget.
	Retries int
	// CurveServerKey (the proxy's public key: Z85 or a certificate file)
	// and CurveSecretKey (this agent's secret certificate) make the
	// session speak CURVE; both empty: NULL.
	CurveServerKey, CurveSecretKey string
	// mech is built from the two above when the configuration is parsed,
	// so a wrong key stops the agent at start with a clear message.
	mech zmtp.Mechanism
}

// clientKey names the client a session uses: one per endpoint (list) and
// credentials.
func (s Session) clientKey() string {
	return s.Endpoint + "\x00" + s.CurveServerKey + "\x00" + s.CurveSecretKey
}

// Mgmt is a vPoller daemon's management socket, for vpoller.status: its
// endpoint and the credentials it asks for (a shared secret or CURVE).
type Mgmt struct {
	Name     string
	Endpoint string
	mech     zmtp.Mechanism
}

// Config is the validated Plugins.VPoller.* configuration.
type Config struct {
	Default  Session
	Sessions map[string]Session // by lower-cased name
	Mgmt     map[string]Mgmt    // by lower-cased name
	// PoolSize caps the requests in flight to one endpoint.
	PoolSize int
	// EventsStateFile is where the vpoller.events positions survive a
	// restart (an absolute path), or EventsStateOff.
	EventsStateFile string
}

// ParseConfig validates the Plugins.VPoller.* options. Every problem names
// the option and its line in the agent configuration.
func ParseConfig(opts *agent2.Options) (*Config, error) {
	cfg := &Config{
		Default:         Session{Endpoint: DefaultEndpoint, Retries: defaultRetries},
		Sessions:        map[string]Session{},
		Mgmt:            map[string]Mgmt{},
		PoolSize:        defaultPoolSize,
		EventsStateFile: eventsStateDefault,
	}
	prefix := "Plugins.VPoller."
	if opts != nil && opts.Plugin != "" {
		prefix = "Plugins." + opts.Plugin + "."
	}
	type sessOpt struct {
		set     map[string]agent2.Option
		display string
	}
	sessions := map[string]*sessOpt{}
	mgmts := map[string]*sessOpt{}
	var order, mgmtOrder []string
	if opts != nil {
		for _, o := range opts.List {
			where := fmt.Sprintf("%s%s (line %d)", prefix, o.Name(), o.Line)
			var err error
			switch {
			case len(o.Path) == 1 && strings.EqualFold(o.Path[0], "Endpoint"):
				cfg.Default.Endpoint, err = parseEndpoint(o.Value)
			case len(o.Path) == 1 && strings.EqualFold(o.Path[0], "Timeout"):
				cfg.Default.Timeout, err = parseTimeout(o.Value)
			case len(o.Path) == 1 && strings.EqualFold(o.Path[0], "Retries"):
				cfg.Default.Retries, err = parseInt(o.Value, 1, maxRetries)
			case len(o.Path) == 1 && strings.EqualFold(o.Path[0], "PoolSize"):
				cfg.PoolSize, err = parseInt(o.Value, 1, maxPoolSize)
			case len(o.Path) == 1 && strings.EqualFold(o.Path[0], "EventsStateFile"):
				cfg.EventsStateFile, err = parseStateFile(o.Value)
			case len(o.Path) == 1 && strings.EqualFold(o.Path[0], "CurveServerKey"):
				cfg.Default.CurveServerKey = strings.TrimSpace(o.Value)
			case len(o.Path) == 1 && strings.EqualFold(o.Path[0], "CurveSecretKey"):
				cfg.Default.CurveSecretKey = strings.TrimSpace(o.Value)
			case len(o.Path) == 3 && strings.EqualFold(o.Path[0], "Mgmt"):
				name := strings.ToLower(o.Path[1])
				m := mgmts[name]
				if m == nil {
					m = &sessOpt{set: map[string]agent2.Option{}, display: o.Path[1]}
					mgmts[name] = m
					mgmtOrder = append(mgmtOrder, name)
				}
				switch field := strings.ToLower(o.Path[2]); field {
				case "endpoint", "secretfile", "curveserverkey", "curvesecretkey":
					m.set[field] = o
				default:
					err = fmt.Errorf("unknown management option %q%s (known: Endpoint, SecretFile, CurveServerKey, CurveSecretKey)", o.Path[2],
						didYouMean(o.Path[2], []string{"Endpoint", "SecretFile", "CurveServerKey", "CurveSecretKey"}, prefix+"Mgmt."+o.Path[1]+"."))
				}
			case len(o.Path) == 3 && strings.EqualFold(o.Path[0], "Sessions"):
				name := strings.ToLower(o.Path[1])
				s := sessions[name]
				if s == nil {
					s = &sessOpt{set: map[string]agent2.Option{}, display: o.Path[1]}
					sessions[name] = s
					order = append(order, name)
				}
				field := strings.ToLower(o.Path[2])
				switch field {
				case "endpoint", "timeout", "retries", "curveserverkey", "curvesecretkey":
					s.set[field] = o
				default:
					err = fmt.Errorf("unknown session option %q%s (known: Endpoint, Timeout, Retries, CurveServerKey, CurveSecretKey)", o.Path[2],
						didYouMean(o.Path[2], []string{"Endpoint", "Timeout", "Retries", "CurveServerKey", "CurveSecretKey"}, prefix+"Sessions."+o.Path[1]+"."))
				}
			default:
				err = fmt.Errorf("unknown option%s (known: Endpoint, Timeout, Retries, PoolSize, EventsStateFile, CurveServerKey, CurveSecretKey, Sessions.<Name>.Endpoint/Timeout/Retries/CurveServerKey/CurveSecretKey, Mgmt.<Name>.Endpoint/SecretFile/CurveServerKey/CurveSecretKey)",
					didYouMean(o.Path[0], topOptions, prefix))
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	var err error
	if cfg.Default.mech, err = zmtp.ClientMechanism(cfg.Default.CurveServerKey, cfg.Default.CurveSecretKey); err != nil {
		return nil, fmt.Errorf("%sCurveServerKey/CurveSecretKey: %w", prefix, err)
	}
	for _, name := range order {
		so := sessions[name]
		s := Session{Name: so.display, Timeout: cfg.Default.Timeout, Retries: cfg.Default.Retries,
			CurveServerKey: cfg.Default.CurveServerKey, CurveSecretKey: cfg.Default.CurveSecretKey}
		if _, ok := so.set["endpoint"]; !ok {
			return nil, fmt.Errorf("%sSessions.%s: Endpoint is missing (every session needs one)", prefix, so.display)
		}
		for field, o := range so.set {
			var err error
			switch field {
			case "endpoint":
				s.Endpoint, err = parseEndpoint(o.Value)
			case "timeout":
				s.Timeout, err = parseTimeout(o.Value)
			case "retries":
				s.Retries, err = parseInt(o.Value, 1, maxRetries)
			case "curveserverkey":
				s.CurveServerKey = strings.TrimSpace(o.Value)
			case "curvesecretkey":
				s.CurveSecretKey = strings.TrimSpace(o.Value)
			}
			if err != nil {
				return nil, fmt.Errorf("%s%s (line %d): %w", prefix, o.Name(), o.Line, err)
			}
		}
		if s.mech, err = zmtp.ClientMechanism(s.CurveServerKey, s.CurveSecretKey); err != nil {
			return nil, fmt.Errorf("%sSessions.%s.CurveServerKey/CurveSecretKey: %w", prefix, so.display, err)
		}
		if isURI(s.Name) {
			return nil, fmt.Errorf("%sSessions.%s: a session name cannot look like an endpoint URI", prefix, so.display)
		}
		cfg.Sessions[name] = s
	}
	for _, name := range mgmtOrder {
		mo := mgmts[name]
		m, err := parseMgmt(mo.display, mo.set)
		if err != nil {
			return nil, fmt.Errorf("%sMgmt.%s: %w", prefix, mo.display, err)
		}
		cfg.Mgmt[name] = m
	}
	return cfg, nil
}

// parseMgmt validates one Mgmt.<Name> block.
func parseMgmt(name string, set map[string]agent2.Option) (Mgmt, error) {
	m := Mgmt{Name: name}
	val := func(k string) string { return strings.TrimSpace(set[k].Value) }
	if val("endpoint") == "" {
		return m, fmt.Errorf("the option Endpoint is missing (the daemon's management endpoint)")
	}
	ep, err := endpoint.Parse(val("endpoint"))
	if err != nil {
		return m, err
	}
	m.Endpoint = ep.Raw
	switch {
	case val("secretfile") != "" && (val("curveserverkey") != "" || val("curvesecretkey") != ""):
		return m, fmt.Errorf("give SecretFile or CurveServerKey/CurveSecretKey, not both")
	case val("secretfile") != "":
		secret, err := zmtp.ReadSecretFile(val("secretfile"))
		if err != nil {
			return m, err
		}
		m.mech = zmtp.PlainClient(zmtp.SecretUser, secret)
	default:
		if m.mech, err = zmtp.ClientMechanism(val("curveserverkey"), val("curvesecretkey")); err != nil {
			return m, err
		}
	}
	return m, nil
}

// mgmt maps vpoller.status's endpoint parameter to a management socket: a
// configured Mgmt name, or a URI used without credentials.
func (c *Config) mgmt(name string) (Mgmt, error) {
	if m, ok := c.Mgmt[strings.ToLower(name)]; ok {
		return m, nil
	}
	if isURI(name) {
		ep, err := endpoint.Parse(name)
		if err != nil {
			return Mgmt{}, fmt.Errorf("endpoint parameter: %w", err)
		}
		return Mgmt{Endpoint: ep.Raw, mech: zmtp.Null()}, nil
	}
	return Mgmt{}, fmt.Errorf("unknown management socket %q: give a Plugins.VPoller.Mgmt.<Name> or an ipc:// or tcp:// URI", name)
}

// SessionNames lists the configured sessions, sorted, for messages.
func (c *Config) SessionNames() []string {
	out := make([]string, 0, len(c.Sessions))
	for _, s := range c.Sessions {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// resolve maps the key's endpoint parameter to a session: "" is the
// default, a URI is used as given with the default timeouts, anything else
// must be a configured session name.
func (c *Config) resolve(endpoint string) (Session, error) {
	if endpoint == "" {
		return c.Default, nil
	}
	if s, ok := c.Sessions[strings.ToLower(endpoint)]; ok {
		return s, nil
	}
	if isURI(endpoint) {
		ep, err := parseEndpoint(endpoint)
		if err != nil {
			return Session{}, fmt.Errorf("endpoint parameter: %w", err)
		}
		s := c.Default
		s.Name, s.Endpoint = "", ep
		return s, nil
	}
	known := "none configured"
	if names := c.SessionNames(); len(names) > 0 {
		known = "configured: " + strings.Join(names, ", ")
	}
	return Session{}, fmt.Errorf("unknown session %q (%s); give a session name from Plugins.VPoller.Sessions or a tcp:// URI", endpoint, known)
}

func isURI(s string) bool { return strings.Contains(s, "://") }

// parseEndpoint validates one endpoint or a comma-separated list of proxy
// frontends and returns it tidied ("tcp://a:1, tcp://b:2" becomes
// "tcp://a:1,tcp://b:2"), so that equal lists share one client and one
// coalescing key.
func parseEndpoint(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("empty endpoint")
	}
	// No socket is opened here, so this is safe in the registration run.
	eps, err := client.SplitEndpoints(v)
	if err != nil {
		return "", fmt.Errorf("invalid endpoint %q (want tcp://host:port, or a comma-separated list of them): %w", v, err)
	}
	return strings.Join(eps, ","), nil
}

// parseStateFile validates EventsStateFile: "off", or an absolute path
// (the agent's working directory is nothing to rely on). Whether the
// directory is writable is checked when the plugin starts, where a
// problem only turns persistence off.
func parseStateFile(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.EqualFold(v, EventsStateOff):
		return EventsStateOff, nil
	case v == "":
		return "", fmt.Errorf("empty path (give an absolute path, or %q)", EventsStateOff)
	case !filepath.IsAbs(v):
		return "", fmt.Errorf("%q is not an absolute path (or %q)", v, EventsStateOff)
	case strings.HasSuffix(v, "/"):
		return "", fmt.Errorf("%q names a directory; give the file's path", v)
	}
	return filepath.Clean(v), nil
}

func parseTimeout(v string) (time.Duration, error) {
	n, err := parseInt(v, 1, maxTimeoutSeconds)
	if err != nil {
		return 0, err
	}
	return time.Duration(n) * time.Second, nil
}

func parseInt(v string, min, max int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", v, min, max)
	}
	return n, nil
}
