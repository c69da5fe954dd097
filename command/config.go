package command

import (
	"net"
	"strconv"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
)

// Every setting of the commands, with its flag, environment variable and
// meaning; the README's Configuration tables list the same.
var (
	// serve and router
	setListen        = setting{"listen", "LONGSHOREMAN_LISTEN", "host:port to listen on; overrides --port"}
	setLogFormat     = setting{"log-format", "LONGSHOREMAN_LOG_FORMAT", "log format: text or json"}
	setLogLevel      = setting{"log-level", "LONGSHOREMAN_LOG_LEVEL", "least level logged: debug, info, warn or error"}
	setRoutesKey     = setting{"", "LONGSHOREMAN_ROUTES_KEY", ""}
	setRedis         = setting{"redis", "REDIS_HOST, REDIS_PORT", "Redis host:port for the routing table"}
	setRedisHost     = setting{"", "REDIS_HOST", ""}
	setRedisPort     = setting{"", "REDIS_PORT", ""}
	setRedisUsername = setting{"", "REDIS_USERNAME", ""}
	setRedisPassword = setting{"", "REDIS_PASSWORD", ""}
	setRedisTLS      = setting{"", "REDIS_TLS", ""}
	setSentinels     = setting{"redis-sentinels", "REDIS_SENTINELS", "host:port,... of Redis Sentinels; with --redis-master, replaces --redis: the master is asked of them and followed across failovers"}
	setRedisMaster   = setting{"redis-master", "REDIS_MASTER", "name of the master the Sentinels watch (their `sentinel monitor NAME ...`)"}
	setChannel       = setting{"channel", "LONGSHOREMAN_CHANNEL", "Redis PubSub channel of the routing table"}

	// serve
	setServePort     = setting{"port", "PORT", "HTTP port of the API"}
	setDB            = setting{"db", "LONGSHOREMAN_DB", "the data file"}
	setInit          = setting{"init", "LONGSHOREMAN_INIT", "create the data file, with a new cluster id, if it does not exist; changes nothing if it does. Pass it once, at the first start"}
	setToken         = setting{"", "LONGSHOREMAN_TOKEN", ""}
	setSecretsKey    = setting{"", cluster.SecretsKeyVar, ""}
	setTLSCert       = setting{"tls-cert", "LONGSHOREMAN_TLS_CERT", "PEM certificate (chain) for the API; with --tls-key the API answers HTTPS only"}
	setTLSKey        = setting{"tls-key", "LONGSHOREMAN_TLS_KEY", "PEM private key of --tls-cert"}
	setHistory       = setting{"history", "LONGSHOREMAN_HISTORY", "revisions kept per app; succeeded ones a rollback can target are kept first"}
	setKeepImages    = setting{"keep-images", "LONGSHOREMAN_KEEP_IMAGES", "newest succeeded revisions per app whose images stay on the hosts; older ones' images are removed after each successful deploy"}
	setDockerPort    = setting{"docker-port", "DOCKER_PORT", "Docker API port on every host (default 2375, or 2376 with TLS)"}
	setDockerTLS     = setting{"", "DOCKER_TLS_VERIFY", ""}
	setDockerCerts   = setting{"", "DOCKER_CERT_PATH", ""}
	setDrain         = setting{"drain", "LONGSHOREMAN_DRAIN", "wait between unrouting and stopping an instance"}
	setRepublish     = setting{"republish", "LONGSHOREMAN_REPUBLISH", "routing-table heartbeat"}
	setReconcile     = setting{"reconcile", "LONGSHOREMAN_RECONCILE", "reconcile loop interval"}
	setHostGrace     = setting{"host-grace", "LONGSHOREMAN_HOST_GRACE", "how long a host may not answer before it is marked down"}
	setMaxCount      = setting{"max-count", "LONGSHOREMAN_MAX_COUNT", "largest instance count per app"}
	setRebalance     = setting{"rebalance", "LONGSHOREMAN_REBALANCE", "spread apps onto a newly added host"}
	setProbeInterval = setting{"probe-interval", "LONGSHOREMAN_PROBE_INTERVAL", "interval between two health checks of one instance"}
	setLease         = setting{"lease", "LONGSHOREMAN_LEASE", "on an etcd store: how long a silent leader keeps leading before another controller takes over"}
	setAuditKeep     = setting{"audit-keep", "LONGSHOREMAN_AUDIT_KEEP", "audit-log entries kept; the oldest are deleted first"}
	setAuditMaxAge   = setting{"audit-max-age", "LONGSHOREMAN_AUDIT_MAX_AGE", "how long an audit-log entry is kept"}
	setAdvertise     = setting{"advertise", "LONGSHOREMAN_ADVERTISE", "on an etcd store: this controller's API URL (with its scheme) that the other controllers forward to"}

	// router
	setRouterPort    = setting{"port", "PORT", "HTTP port to serve on"}
	setRouterState   = setting{"state-dir", "LONGSHOREMAN_ROUTER_STATE", "directory that keeps the cluster this router serves across restarts (default systemd's $STATE_DIRECTORY; empty: kept in memory only)"}
	setStateDir      = setting{"", "STATE_DIRECTORY", ""}
	setRouterCluster = setting{"cluster", "LONGSHOREMAN_ROUTER_CLUSTER", "serve this cluster id from now on, replacing the one kept in --state-dir"}

	// router limits: slow instances, slow or numerous clients
	setBackendTimeout = setting{"backend-timeout", "LONGSHOREMAN_BACKEND_TIMEOUT", "how long an instance may take to start its answer before the client gets 504"}
	setHeaderTimeout  = setting{"header-timeout", "LONGSHOREMAN_HEADER_TIMEOUT", "how long a client may take to send a request's headers"}
	setIdleTimeout    = setting{"idle-timeout", "LONGSHOREMAN_IDLE_TIMEOUT", "close a client's keep-alive connection idle this long"}
	setMinBodyRate    = setting{"min-body-rate", "LONGSHOREMAN_MIN_BODY_RATE", "slowest request body accepted, bytes/s over --body-rate-window; 0: no minimum"}
	setMinReadRate    = setting{"min-read-rate", "LONGSHOREMAN_MIN_READ_RATE", "slowest a client may read an answer, bytes/s over --body-rate-window; one that reads nothing is cut a window after its buffers fill; 0: no minimum"}
	setBodyRateWindow = setting{"body-rate-window", "LONGSHOREMAN_BODY_RATE_WINDOW", "grace and averaging window of --min-body-rate and --min-read-rate"}
	setMaxConns       = setting{"max-conns", "LONGSHOREMAN_MAX_CONNS", "client connections open at once; more wait to be accepted; 0: no cap"}
	setTrustForwarded = setting{"trust-forwarded", "LONGSHOREMAN_TRUST_FORWARDED", "CIDR,... of proxies in front of the router whose X-Forwarded-For chain is kept; default none: an edge router"}

	// token
	setPrintRoutesKey = setting{"routes-key", "", "print the routes key that signs the routing tables (the routers' LONGSHOREMAN_ROUTES_KEY) instead of the API token"}
)

// RedisConfig is the PubSub server that carries the routing table, the
// same settings for the controller and the routers.
type RedisConfig struct {
	Addr     string // host:port; --redis, or REDIS_HOST and REDIS_PORT
	Username string // REDIS_USERNAME: a Redis ACL user; empty: the default user
	Password string // REDIS_PASSWORD
	TLS      bool   // REDIS_TLS: connect over TLS (system CA roots)
	Channel  string // --channel, LONGSHOREMAN_CHANNEL

	// Sentinels (--redis-sentinels, REDIS_SENTINELS: host:port,...), when
	// not empty, replace Addr: the client asks them for the address of
	// Master (--redis-master, REDIS_MASTER) and follows it when they fail
	// over. Username, Password and TLS apply to the master and its
	// replicas; the Sentinels are reached over TLS too, without a password.
	Sentinels string
	Master    string
}

// DefaultRedisConfig is a Redis on this machine, on its usual port.
func DefaultRedisConfig() RedisConfig {
	return RedisConfig{Addr: "127.0.0.1:6379", Channel: cluster.DefaultChannel}
}

// load reads the Redis settings: REDIS_HOST and REDIS_PORT each replace
// their half of the address, --redis the whole of it.
func (c *RedisConfig) load(l *loader) {
	host, port, _ := net.SplitHostPort(c.Addr)
	l.String(&host, setRedisHost)
	l.String(&port, setRedisPort)
	c.Addr = net.JoinHostPort(host, port)
	l.flag(setRedis, func(help string) { l.fs.StringVar(&c.Addr, setRedis.flag, c.Addr, help) }) // its env is the two above
	l.String(&c.Username, setRedisUsername)
	l.String(&c.Password, setRedisPassword)
	l.Bool(&c.TLS, setRedisTLS)
	l.String(&c.Sentinels, setSentinels)
	l.String(&c.Master, setRedisMaster)
	l.String(&c.Channel, setChannel)
}

// sentinels returns the Sentinel addresses, without empty entries.
func (c RedisConfig) sentinels() []string {
	var addrs []string
	for _, a := range strings.Split(c.Sentinels, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// Where names the Redis in use for logs and messages: host:port, or the
// master's name and its Sentinels.
func (c RedisConfig) Where() string {
	if addrs := c.sentinels(); len(addrs) > 0 {
		return "master " + c.Master + " of sentinels " + strings.Join(addrs, ",")
	}
	return c.Addr
}

// Validate reports a Redis address that cannot be dialed, Sentinels without
// a master's name or the other way round, and an empty channel.
func (c RedisConfig) Validate() error {
	var p problems
	c.check(&p)
	return p.err()
}

func (c RedisConfig) check(p *problems) {
	addrs := c.sentinels()
	switch {
	case len(addrs) == 0 && strings.TrimSpace(c.Sentinels) != "":
		p.add(setSentinels, "is %q: give host:port,... of the Sentinels such as 10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379, or unset it to use --redis", c.Sentinels)
	case len(addrs) == 0:
		p.hostPort(setRedis, c.Addr, false)
		if c.Master != "" {
			p.add(setRedisMaster, "is %q but %s is not set: give the Sentinels that watch this master, or unset %s to use --redis", c.Master, setSentinels, setRedisMaster.env)
		}
	default:
		for _, a := range addrs {
			p.hostPort(setSentinels, a, false)
		}
		if strings.TrimSpace(c.Master) == "" {
			p.add(setRedisMaster, "is not set: give the name the Sentinels monitor the master under (their `sentinel monitor NAME ...` line), as `redis-cli -p 26379 sentinel masters` lists it")
		}
	}
	if c.Channel == "" {
		p.add(setChannel, "is empty: give the PubSub channel's name (default %s)", cluster.DefaultChannel)
	}
}

// Client returns the client of the Redis the settings name (not yet
// connected: Redis may be away at start).
func (c RedisConfig) Client() *pubsub.Client {
	return pubsub.NewClient(pubsub.Options{
		Addr: c.Addr, Username: c.Username, Password: c.Password, TLS: c.TLS,
		Sentinels: c.sentinels(), Master: c.Master,
	})
}

// listenAddr is the address to listen on: listen, or every address on port.
func listenAddr(listen string, port int) string {
	if listen != "" {
		return listen
	}
	return ":" + strconv.Itoa(port)
}
