package command

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"

	"github.com/longshoreman/longshoreman/router"
)

// validServe is a configuration Validate accepts: the defaults, loaded.
func validServe(t *testing.T) ServeConfig {
	t.Helper()
	c, err := LoadServeConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	return c
}

// wantNamed checks that err names every one of names.
func wantNamed(t *testing.T, what string, err error, names ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted, want an error naming %q", what, names)
		return
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("%s: %q does not name %q", what, err, n)
		}
	}
}

func TestServeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*ServeConfig)
		names []string // what the message must say
	}{
		{"port 0", func(c *ServeConfig) { c.Port = 0 }, []string{"--port (PORT)", "1 to 65535"}},
		{"port negative", func(c *ServeConfig) { c.Port = -3 }, []string{"--port (PORT)", "1 to 65535"}},
		{"port too high", func(c *ServeConfig) { c.Port = 65536 }, []string{"--port (PORT)", "1 to 65535"}},
		{"listen without port", func(c *ServeConfig) { c.Listen = "127.0.0.1" }, []string{"--listen (LONGSHOREMAN_LISTEN)", "host:port"}},
		{"listen port not a number", func(c *ServeConfig) { c.Listen = "127.0.0.1:http" }, []string{"--listen (LONGSHOREMAN_LISTEN)", "0 to 65535"}},
		{"listen port too high", func(c *ServeConfig) { c.Listen = ":70000" }, []string{"--listen (LONGSHOREMAN_LISTEN)", "0 to 65535"}},
		{"db empty", func(c *ServeConfig) { c.DB = "" }, []string{"--db (LONGSHOREMAN_DB)", "path"}},
		{"token short", func(c *ServeConfig) { c.Token = "t0ken" }, []string{"LONGSHOREMAN_TOKEN", "at least 16"}},
		{"token 15", func(c *ServeConfig) { c.Token = "123456789012345" }, []string{"LONGSHOREMAN_TOKEN", "at least 16"}},
		{"routes key short", func(c *ServeConfig) { c.RoutesKey = "short" }, []string{"LONGSHOREMAN_ROUTES_KEY", "at least 16", "unset it"}},
		{"routes key only commas", func(c *ServeConfig) { c.RoutesKey = ",," }, []string{"LONGSHOREMAN_ROUTES_KEY", "no routes key"}},
		{"tls cert alone", func(c *ServeConfig) { c.TLSCert = "cert.pem" }, []string{"--tls-cert (LONGSHOREMAN_TLS_CERT)", "--tls-key (LONGSHOREMAN_TLS_KEY)", "go together"}},
		{"tls key alone", func(c *ServeConfig) { c.TLSKey = "key.pem" }, []string{"--tls-cert (LONGSHOREMAN_TLS_CERT)", "go together"}},
		{"redis without port", func(c *ServeConfig) { c.Redis.Addr = "redis.lan" }, []string{"--redis (REDIS_HOST, REDIS_PORT)", "host:port"}},
		{"redis port text", func(c *ServeConfig) { c.Redis.Addr = "127.0.0.1:abc" }, []string{"--redis (REDIS_HOST, REDIS_PORT)", "1 to 65535"}},
		{"redis port 0", func(c *ServeConfig) { c.Redis.Addr = "127.0.0.1:0" }, []string{"--redis (REDIS_HOST, REDIS_PORT)", "1 to 65535"}},
		{"channel empty", func(c *ServeConfig) { c.Redis.Channel = "" }, []string{"--channel (LONGSHOREMAN_CHANNEL)", "empty"}},
		{"docker port 0", func(c *ServeConfig) { c.DockerPort = 0 }, []string{"--docker-port (DOCKER_PORT)", "1 to 65535"}},
		{"docker port too high", func(c *ServeConfig) { c.DockerPort = 99999 }, []string{"--docker-port (DOCKER_PORT)", "1 to 65535"}},
		{"docker tls without certs", func(c *ServeConfig) { c.DockerTLS, c.DockerCerts = true, "" }, []string{"DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"}},
		{"drain 0", func(c *ServeConfig) { c.Drain = 0 }, []string{"--drain (LONGSHOREMAN_DRAIN)", "above zero"}},
		{"drain negative", func(c *ServeConfig) { c.Drain = -time.Second }, []string{"--drain (LONGSHOREMAN_DRAIN)", "above zero", "-1s"}},
		{"republish 0", func(c *ServeConfig) { c.Republish = 0 }, []string{"--republish (LONGSHOREMAN_REPUBLISH)", "above zero"}},
		{"republish negative", func(c *ServeConfig) { c.Republish = -time.Millisecond }, []string{"--republish (LONGSHOREMAN_REPUBLISH)", "above zero"}},
		{"reconcile 0", func(c *ServeConfig) { c.Reconcile = 0 }, []string{"--reconcile (LONGSHOREMAN_RECONCILE)", "above zero"}},
		{"reconcile negative", func(c *ServeConfig) { c.Reconcile = -time.Second }, []string{"--reconcile (LONGSHOREMAN_RECONCILE)", "above zero", "-1s"}},
		{"probe interval 0", func(c *ServeConfig) { c.ProbeInterval = 0 }, []string{"--probe-interval (LONGSHOREMAN_PROBE_INTERVAL)", "above zero"}},
		{"probe interval negative", func(c *ServeConfig) { c.ProbeInterval = -time.Second }, []string{"--probe-interval (LONGSHOREMAN_PROBE_INTERVAL)", "above zero", "-1s"}},
		{"host grace 0", func(c *ServeConfig) { c.HostGrace = 0 }, []string{"--host-grace (LONGSHOREMAN_HOST_GRACE)", "above zero"}},
		{"host grace negative", func(c *ServeConfig) { c.HostGrace = -time.Minute }, []string{"--host-grace (LONGSHOREMAN_HOST_GRACE)", "above zero"}},
		{"max count 0", func(c *ServeConfig) { c.MaxCount = 0 }, []string{"--max-count (LONGSHOREMAN_MAX_COUNT)", "at least 1"}},
		{"max count negative", func(c *ServeConfig) { c.MaxCount = -1 }, []string{"--max-count (LONGSHOREMAN_MAX_COUNT)", "at least 1"}},
		{"history 0", func(c *ServeConfig) { c.History = 0 }, []string{"--history (LONGSHOREMAN_HISTORY)", "at least 1"}},
		{"history negative", func(c *ServeConfig) { c.History = -5 }, []string{"--history (LONGSHOREMAN_HISTORY)", "at least 1"}},
		{"keep images 0", func(c *ServeConfig) { c.KeepImages = 0 }, []string{"--keep-images (LONGSHOREMAN_KEEP_IMAGES)", "at least 1"}},
		{"audit keep 0", func(c *ServeConfig) { c.AuditKeep = 0 }, []string{"--audit-keep (LONGSHOREMAN_AUDIT_KEEP)", "at least 1"}},
		{"audit max age 1m", func(c *ServeConfig) { c.AuditMaxAge = time.Minute }, []string{"--audit-max-age (LONGSHOREMAN_AUDIT_MAX_AGE)", "at least 1h"}},
		{"log format", func(c *ServeConfig) { c.LogFormat = "xml" }, []string{"--log-format (LONGSHOREMAN_LOG_FORMAT)", "text, json"}},
		{"log format empty", func(c *ServeConfig) { c.LogFormat = "" }, []string{"--log-format (LONGSHOREMAN_LOG_FORMAT)", "text, json"}},
		{"log level", func(c *ServeConfig) { c.LogLevel = "verbose" }, []string{"--log-level (LONGSHOREMAN_LOG_LEVEL)", "debug, info, warn, error"}},
		{"write timeout negative", func(c *ServeConfig) { c.Timeouts.Write = -time.Second }, []string{"ServerTimeouts.Write", "0 (the default) or more"}},
		{"shutdown timeout negative", func(c *ServeConfig) { c.Timeouts.Shutdown = -time.Second }, []string{"ServerTimeouts.Shutdown"}},
		{"lease under 1s", func(c *ServeConfig) { c.Lease = 500 * time.Millisecond }, []string{"--lease (LONGSHOREMAN_LEASE)", "at least 1s"}},
		{"etcd without advertise", func(c *ServeConfig) { c.DB = "etcd://127.0.0.1:2379/ls" }, []string{"--advertise (LONGSHOREMAN_ADVERTISE)", "is empty", "etcd store", "http://"}},
		{"advertise without scheme", func(c *ServeConfig) { c.DB, c.Advertise = "etcd://127.0.0.1:2379/ls", "10.0.0.1:3000" }, []string{"--advertise (LONGSHOREMAN_ADVERTISE)", "with its scheme"}},
		{"advertise ftp", func(c *ServeConfig) { c.DB, c.Advertise = "etcd://127.0.0.1:2379/ls", "ftp://10.0.0.1" }, []string{"--advertise (LONGSHOREMAN_ADVERTISE)", "with its scheme"}},
	} {
		c := validServe(t)
		tc.set(&c)
		wantNamed(t, tc.name, c.Validate(), tc.names...)
	}
}

func TestServeConfigValidateAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*ServeConfig)
	}{
		{"defaults", func(*ServeConfig) {}},
		{"listen on any free port", func(c *ServeConfig) { c.Listen = "127.0.0.1:0" }},
		{"listen on every address", func(c *ServeConfig) { c.Listen = ":3001" }},
		{"listen on IPv6", func(c *ServeConfig) { c.Listen = "[::1]:3001" }},
		{"highest port", func(c *ServeConfig) { c.Port, c.DockerPort = 65535, 65535 }},
		{"token of 16", func(c *ServeConfig) { c.Token = "0123456789abcdef" }},
		{"routes keys rotating", func(c *ServeConfig) { c.RoutesKey = "new-key-0123456789, old-key-0123456789" }},
		{"tls pair", func(c *ServeConfig) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" }},
		{"docker tls with certs", func(c *ServeConfig) { c.DockerTLS, c.DockerCerts = true, "/certs" }},
		{"shortest durations", func(c *ServeConfig) { c.Drain, c.Republish, c.Reconcile, c.HostGrace = 1, 1, 1, 1 }},
		{"one instance, one revision", func(c *ServeConfig) { c.MaxCount, c.History = 1, 1 }},
		{"json log", func(c *ServeConfig) { c.LogFormat = "json" }},
		{"timeouts set", func(c *ServeConfig) { c.Timeouts = ServerTimeouts{Read: time.Second, Shutdown: time.Second} }},
	} {
		c := validServe(t)
		tc.set(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestServeConfigValidateNamesEveryProblem: one start names every bad
// value, not only the first.
func TestServeConfigValidateNamesEveryProblem(t *testing.T) {
	c := validServe(t)
	c.Reconcile, c.History, c.LogFormat = -time.Second, 0, "xml"
	wantNamed(t, "three bad values", c.Validate(), "--reconcile", "--history", "--log-format")
}

func TestRouterConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*RouterConfig)
		names []string
	}{
		{"routes key unset", func(c *RouterConfig) { c.RoutesKey = "" }, []string{"LONGSHOREMAN_ROUTES_KEY is not set", "longshoreman token --routes-key"}},
		{"routes key short", func(c *RouterConfig) { c.RoutesKey = "short" }, []string{"LONGSHOREMAN_ROUTES_KEY", "at least 16"}},
		{"routes key one of two short", func(c *RouterConfig) { c.RoutesKey = "new-key-0123456789,old" }, []string{"LONGSHOREMAN_ROUTES_KEY", "at least 16"}},
		{"port 0", func(c *RouterConfig) { c.Port = 0 }, []string{"--port (PORT)", "1 to 65535"}},
		{"port too high", func(c *RouterConfig) { c.Port = 80000 }, []string{"--port (PORT)", "1 to 65535"}},
		{"listen without port", func(c *RouterConfig) { c.Listen = "0.0.0.0" }, []string{"--listen (LONGSHOREMAN_LISTEN)"}},
		{"redis port text", func(c *RouterConfig) { c.Redis.Addr = "127.0.0.1:redis" }, []string{"--redis (REDIS_HOST, REDIS_PORT)"}},
		{"channel empty", func(c *RouterConfig) { c.Redis.Channel = "" }, []string{"--channel (LONGSHOREMAN_CHANNEL)"}},
		{"log format", func(c *RouterConfig) { c.LogFormat = "JSON" }, []string{"--log-format (LONGSHOREMAN_LOG_FORMAT)", "text, json"}},
		{"log level", func(c *RouterConfig) { c.LogLevel = "INFO" }, []string{"--log-level (LONGSHOREMAN_LOG_LEVEL)", "debug, info, warn, error"}},
		{"backend timeout 0", func(c *RouterConfig) { c.Limits.BackendTimeout = 0 }, []string{"--backend-timeout (LONGSHOREMAN_BACKEND_TIMEOUT)", "above zero"}},
		{"backend timeout negative", func(c *RouterConfig) { c.Limits.BackendTimeout = -time.Second }, []string{"--backend-timeout (LONGSHOREMAN_BACKEND_TIMEOUT)", "above zero"}},
		{"header timeout 0", func(c *RouterConfig) { c.Limits.HeaderTimeout = 0 }, []string{"--header-timeout (LONGSHOREMAN_HEADER_TIMEOUT)", "above zero"}},
		{"idle timeout negative", func(c *RouterConfig) { c.Limits.IdleTimeout = -time.Second }, []string{"--idle-timeout (LONGSHOREMAN_IDLE_TIMEOUT)", "above zero"}},
		{"body rate window 0", func(c *RouterConfig) { c.Limits.BodyRateWindow = 0 }, []string{"--body-rate-window (LONGSHOREMAN_BODY_RATE_WINDOW)", "above zero"}},
		{"min body rate negative", func(c *RouterConfig) { c.Limits.MinBodyRate = -1 }, []string{"--min-body-rate (LONGSHOREMAN_MIN_BODY_RATE)", "0 or more"}},
		{"max conns negative", func(c *RouterConfig) { c.Limits.MaxConns = -1 }, []string{"--max-conns (LONGSHOREMAN_MAX_CONNS)", "0 or more"}},
		{"trusted proxy a name", func(c *RouterConfig) { c.Limits.TrustForwarded = "10.0.0.0/8,proxy.lan" }, []string{"--trust-forwarded (LONGSHOREMAN_TRUST_FORWARDED)", "proxy.lan"}},
		{"trusted proxy bad prefix", func(c *RouterConfig) { c.Limits.TrustForwarded = "10.0.0.0/40" }, []string{"--trust-forwarded (LONGSHOREMAN_TRUST_FORWARDED)", "10.0.0.0/40"}},
	} {
		c := DefaultRouterConfig()
		c.RoutesKey = "routes-key-0123456789"
		if err := c.Validate(); err != nil {
			t.Fatalf("defaults with a key: %v", err)
		}
		tc.set(&c)
		wantNamed(t, tc.name, c.Validate(), tc.names...)
	}
}

func TestTokenConfigValidate(t *testing.T) {
	if err := (TokenConfig{DB: "ls.db"}).Validate(); err != nil {
		t.Fatal(err)
	}
	wantNamed(t, "empty db", TokenConfig{}.Validate(), "--db (LONGSHOREMAN_DB)")
}

// TestLoadServeConfig checks the loader: defaults, the environment over
// them, flags over the environment, and the values derived at load.
func TestLoadServeConfig(t *testing.T) {
	c := validServe(t)
	def := ServeConfig{
		Port: 3000, DB: "longshoreman.db", DBDefault: true,
		Redis:      RedisConfig{Addr: "127.0.0.1:6379", Channel: "longshoreman.routes"},
		DockerPort: 2375, Drain: 2 * time.Second, Republish: 10 * time.Second, Reconcile: 5 * time.Second,
		ProbeInterval: 5 * time.Second, HostGrace: 15 * time.Second, MaxCount: 64, History: 100, KeepImages: 3, Rebalance: true, LogFormat: "text", LogLevel: "info", Lease: 5 * time.Second,
		AuditKeep: 10000, AuditMaxAge: 90 * 24 * time.Hour,
	}
	if c != def {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, def)
	}
	if c.Addr() != ":3000" {
		t.Errorf("default address %q", c.Addr())
	}

	env := map[string]string{
		"PORT": "3100", "LONGSHOREMAN_DB": "/data/ls.db", "LONGSHOREMAN_INIT": "TRUE", "LONGSHOREMAN_TOKEN": "t0ken-0123456789",
		"LONGSHOREMAN_ROUTES_KEY": "routes-key-0123456789", "LONGSHOREMAN_TLS_CERT": "c.pem", "LONGSHOREMAN_TLS_KEY": "k.pem",
		"LONGSHOREMAN_HISTORY": "7", "LONGSHOREMAN_KEEP_IMAGES": "5", "REDIS_HOST": "10.0.0.2", "REDIS_PORT": "6380", "REDIS_USERNAME": "ctl", "REDIS_PASSWORD": "pw",
		"REDIS_TLS": "1", "LONGSHOREMAN_CHANNEL": "ch", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs",
		"LONGSHOREMAN_DRAIN": "3s", "LONGSHOREMAN_REPUBLISH": "4s", "LONGSHOREMAN_RECONCILE": "6s", "LONGSHOREMAN_PROBE_INTERVAL": "750ms", "LONGSHOREMAN_HOST_GRACE": "20s",
		"LONGSHOREMAN_MAX_COUNT": "9", "LONGSHOREMAN_REBALANCE": "0", "LONGSHOREMAN_LOG_FORMAT": "json", "LONGSHOREMAN_LOG_LEVEL": "debug",
		"LONGSHOREMAN_LEASE": "7s", "LONGSHOREMAN_ADVERTISE": "http://10.0.0.1:3100",
		"LONGSHOREMAN_AUDIT_KEEP": "500", "LONGSHOREMAN_AUDIT_MAX_AGE": "720h",
	}
	c, err := LoadServeConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := ServeConfig{
		Port: 3100, DB: "/data/ls.db", Init: true, Token: "t0ken-0123456789", RoutesKey: "routes-key-0123456789",
		TLSCert: "c.pem", TLSKey: "k.pem", History: 7, KeepImages: 5,
		Redis:      RedisConfig{Addr: "10.0.0.2:6380", Username: "ctl", Password: "pw", TLS: true, Channel: "ch"},
		DockerPort: 2376, DockerTLS: true, DockerCerts: "/certs", Drain: 3 * time.Second, Republish: 4 * time.Second,
		Reconcile: 6 * time.Second, ProbeInterval: 750 * time.Millisecond, HostGrace: 20 * time.Second, MaxCount: 9, LogFormat: "json", LogLevel: "debug",
		Lease: 7 * time.Second, Advertise: "http://10.0.0.1:3100", AuditKeep: 500, AuditMaxAge: 720 * time.Hour,
	}
	if c != want {
		t.Errorf("from the environment:\n got %+v\nwant %+v", c, want)
	}

	args := []string{"--port", "3200", "--listen", "127.0.0.1:0", "--db", "other.db", "--redis", "redis.lan:7000", "--docker-port", "2377",
		"--drain", "1s", "--reconcile", "2s", "--probe-interval", "3s", "--rebalance", "--init=false", "--history", "3", "--keep-images", "2", "--log-format", "text", "--audit-keep", "20"}
	c, err = LoadServeConfig(args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3200 || c.Addr() != "127.0.0.1:0" || c.DB != "other.db" || c.Redis.Addr != "redis.lan:7000" || c.DockerPort != 2377 ||
		c.Drain != time.Second || c.Reconcile != 2*time.Second || c.ProbeInterval != 3*time.Second || !c.Rebalance || c.Init || c.History != 3 || c.KeepImages != 2 || c.LogFormat != "text" || c.AuditKeep != 20 {
		t.Errorf("flags over the environment: %+v", c)
	}
	if c.Redis.Username != "ctl" || c.Republish != 4*time.Second {
		t.Errorf("the environment of settings no flag gave was lost: %+v", c)
	}
}

// TestLoadServeConfigDefaultDB: only a data file path given neither way
// is the default one, which is created without --init.
func TestLoadServeConfigDefaultDB(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want bool
	}{
		{nil, nil, true},
		{map[string]string{"LONGSHOREMAN_DB": "longshoreman.db"}, nil, false},
		{nil, []string{"--db", "longshoreman.db"}, false},
		{nil, []string{"--db", "x.db"}, false},
	} {
		c, err := LoadServeConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil || c.DBDefault != tc.want {
			t.Errorf("%v %v: DBDefault %v (%v), want %v", tc.env, tc.args, c.DBDefault, err, tc.want)
		}
	}
}

// TestLoadRefusesBadValues: a value that does not parse, or is out of
// range, stops the start with a message naming it.
func TestLoadRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		args  []string
		names []string
	}{
		{args: []string{"--reconcile=-1s"}, names: []string{"--reconcile (LONGSHOREMAN_RECONCILE)", "above zero", "-1s"}},
		{env: map[string]string{"LONGSHOREMAN_RECONCILE": "-1s"}, names: []string{"--reconcile (LONGSHOREMAN_RECONCILE)", "above zero"}},
		{env: map[string]string{"LONGSHOREMAN_RECONCILE": "5"}, names: []string{`LONGSHOREMAN_RECONCILE="5" is not a duration`}},
		{args: []string{"--reconcile", "soon"}, names: []string{"-reconcile"}},
		{env: map[string]string{"PORT": "abc"}, names: []string{`PORT="abc" is not a whole number`}},
		{env: map[string]string{"PORT": "0"}, names: []string{"--port (PORT)", "1 to 65535"}},
		{env: map[string]string{"REDIS_PORT": "abc"}, names: []string{"--redis (REDIS_HOST, REDIS_PORT)", `"127.0.0.1:abc"`}},
		{env: map[string]string{"REDIS_PORT": "70000"}, names: []string{"--redis (REDIS_HOST, REDIS_PORT)"}},
		{env: map[string]string{"DOCKER_PORT": "-1"}, names: []string{"--docker-port (DOCKER_PORT)"}},
		{env: map[string]string{"LONGSHOREMAN_MAX_COUNT": "0"}, names: []string{"--max-count (LONGSHOREMAN_MAX_COUNT)"}},
		{env: map[string]string{"LONGSHOREMAN_HISTORY": "0"}, names: []string{"--history (LONGSHOREMAN_HISTORY)"}},
		{env: map[string]string{"LONGSHOREMAN_LOG_FORMAT": "xml"}, names: []string{"--log-format (LONGSHOREMAN_LOG_FORMAT)"}},
		{env: map[string]string{"LONGSHOREMAN_REBALANCE": "yes"}, names: []string{`LONGSHOREMAN_REBALANCE="yes" is neither 1/true nor 0/false`}},
		{env: map[string]string{"LONGSHOREMAN_INIT": "on"}, names: []string{`LONGSHOREMAN_INIT="on"`}},
		{env: map[string]string{"REDIS_TLS": "yes"}, names: []string{`REDIS_TLS="yes"`}},
		{args: []string{"--rebalance=maybe"}, names: []string{"-rebalance", "neither 1/true nor 0/false"}},
		{args: []string{"--init=t"}, names: []string{"-init", "neither 1/true nor 0/false"}},
		{args: []string{"extra"}, names: []string{"serve takes no arguments"}},
		// Every bad variable is named, not only the first.
		{env: map[string]string{"PORT": "abc", "LONGSHOREMAN_DRAIN": "abc"}, names: []string{"PORT=", "LONGSHOREMAN_DRAIN="}},
	} {
		_, err := LoadServeConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		wantNamed(t, strings.TrimSpace(strings.Join(tc.args, " ")+" "+mapString(tc.env)), err, tc.names...)
	}
}

func mapString(m map[string]string) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=" + v + " ")
	}
	return b.String()
}

// TestSwitchesParsedOneWay: every switch, flag or variable, takes 1/true
// and 0/false in any case, and refuses anything else.
func TestSwitchesParsedOneWay(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		ok   bool
	}{
		{"1", true, true}, {"true", true, true}, {"TRUE", true, true}, {"True", true, true}, {" true ", true, true},
		{"0", false, true}, {"false", false, true}, {"FALSE", false, true},
		{"yes", false, false}, {"no", false, false}, {"on", false, false}, {"t", false, false}, {"2", false, false}, {"enabled", false, false},
	} {
		got, err := parseSwitch(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseSwitch(%q) = %v, %v", tc.in, got, err)
		}
		// The same answer from each switch, as a variable and as a flag.
		for _, sw := range []struct {
			env, flag string
			get       func(ServeConfig) bool
		}{
			{"LONGSHOREMAN_INIT", "init", func(c ServeConfig) bool { return c.Init }},
			{"LONGSHOREMAN_REBALANCE", "rebalance", func(c ServeConfig) bool { return c.Rebalance }},
			{"REDIS_TLS", "", func(c ServeConfig) bool { return c.Redis.TLS }},
		} {
			if strings.TrimSpace(tc.in) == "" {
				continue
			}
			c, err := LoadServeConfig(nil, func(k string) string { return map[string]string{sw.env: tc.in}[k] }, io.Discard)
			if (err == nil) != tc.ok || (tc.ok && sw.get(c) != tc.want) {
				t.Errorf("%s=%q: %v, %v", sw.env, tc.in, sw.get(c), err)
			}
			if sw.flag == "" {
				continue
			}
			c, err = LoadServeConfig([]string{"--" + sw.flag + "=" + tc.in}, func(string) string { return "" }, io.Discard)
			if (err == nil) != tc.ok || (tc.ok && sw.get(c) != tc.want) {
				t.Errorf("--%s=%q: %v, %v", sw.flag, tc.in, sw.get(c), err)
			}
		}
	}
}

// TestDockerTLSVerifyAsDocker: DOCKER_TLS_VERIFY keeps Docker's own
// meaning, any value but empty turns TLS on, and moves the default port.
func TestDockerTLSVerifyAsDocker(t *testing.T) {
	for _, v := range []string{"1", "0", "yes"} {
		c, err := LoadServeConfig(nil, func(k string) string {
			return map[string]string{"DOCKER_TLS_VERIFY": v, "DOCKER_CERT_PATH": "/certs"}[k]
		}, io.Discard)
		if err != nil || !c.DockerTLS || c.DockerPort != 2376 {
			t.Errorf("DOCKER_TLS_VERIFY=%s: TLS %v port %d, %v", v, c.DockerTLS, c.DockerPort, err)
		}
	}
	t.Setenv("HOME", "/home/op")
	c, err := LoadServeConfig(nil, func(k string) string { return map[string]string{"DOCKER_TLS_VERIFY": "1"}[k] }, io.Discard)
	if err != nil || c.DockerCerts != "/home/op/.docker" {
		t.Errorf("DOCKER_TLS_VERIFY without DOCKER_CERT_PATH: certs %q, %v; want ~/.docker", c.DockerCerts, err)
	}
}

func TestLoadRouterConfig(t *testing.T) {
	key := "routes-key-0123456789"
	c, err := LoadRouterConfig(nil, func(k string) string { return map[string]string{"LONGSHOREMAN_ROUTES_KEY": key}[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultRouterConfig()
	want.RoutesKey = key
	if c != want || c.Addr() != ":80" || c.Redis.Addr != "127.0.0.1:6379" || c.Limits.MaxConns != 10000 {
		t.Errorf("defaults: %+v", c)
	}
	env := map[string]string{
		"LONGSHOREMAN_ROUTES_KEY": key, "PORT": "8080", "REDIS_HOST": "10.0.0.2", "REDIS_PORT": "6380", "REDIS_USERNAME": "router",
		"REDIS_PASSWORD": "pw", "REDIS_TLS": "true", "LONGSHOREMAN_CHANNEL": "ch", "LONGSHOREMAN_LOG_FORMAT": "json",
		"STATE_DIRECTORY": "/var/lib/systemd-given", "LONGSHOREMAN_ROUTER_CLUSTER": "c1",
		"LONGSHOREMAN_BACKEND_TIMEOUT": "5s", "LONGSHOREMAN_MAX_CONNS": "0", "LONGSHOREMAN_TRUST_FORWARDED": "10.0.0.0/8",
	}
	c, err = LoadRouterConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != ":8080" || c.Redis != (RedisConfig{Addr: "10.0.0.2:6380", Username: "router", Password: "pw", TLS: true, Channel: "ch"}) ||
		c.LogFormat != "json" || c.StateDir != "/var/lib/systemd-given" || c.Cluster != "c1" ||
		c.Limits.BackendTimeout != 5*time.Second || c.Limits.MaxConns != 0 || c.Limits.TrustForwarded != "10.0.0.0/8" {
		t.Errorf("from the environment: %+v", c)
	}
	env["LONGSHOREMAN_ROUTER_STATE"] = "/srv/router"
	c, err = LoadRouterConfig([]string{"--listen", "127.0.0.1:0", "--cluster", "c2"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.StateDir != "/srv/router" || c.Addr() != "127.0.0.1:0" || c.Cluster != "c2" {
		t.Errorf("LONGSHOREMAN_ROUTER_STATE over STATE_DIRECTORY, flags over env: %+v, %v", c, err)
	}
	c, err = LoadRouterConfig([]string{"--state-dir", "/tmp/r"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.StateDir != "/tmp/r" {
		t.Errorf("--state-dir: %q, %v", c.StateDir, err)
	}
}

func TestLoadTokenConfig(t *testing.T) {
	c, err := LoadTokenConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c != (TokenConfig{DB: "longshoreman.db"}) {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = LoadTokenConfig([]string{"--routes-key"}, func(k string) string { return map[string]string{"LONGSHOREMAN_DB": "/data/ls.db"}[k] }, io.Discard)
	if err != nil || c != (TokenConfig{DB: "/data/ls.db", RoutesKey: true}) {
		t.Errorf("env and flag: %+v, %v", c, err)
	}
	if _, err := LoadTokenConfig([]string{"-h"}, func(string) string { return "" }, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestOpenRefusesAnInvalidConfig: a Config changed after ParseFlags is
// validated again by Open, before the data file is touched, so a bad
// value stops the start instead of panicking in a ticker.
func TestOpenRefusesAnInvalidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	c := &ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_LISTEN": "127.0.0.1:0", "LONGSHOREMAN_INIT": "1"}[k]
	}}
	if err := c.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	c.Config.Reconcile = -time.Second
	err := c.Open(context.Background())
	c.Close()
	wantNamed(t, "Open with reconcile -1s", err, "--reconcile (LONGSHOREMAN_RECONCILE)")
	if _, serr := os.Stat(path); serr == nil {
		t.Error("Open created the data file before refusing the configuration")
	}
}

func TestLoadRouterHTTPSConfig(t *testing.T) {
	base := map[string]string{"LONGSHOREMAN_ROUTES_KEY": "routes-key-0123456789"}
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // "" : loads
		addr    string // RunConfig.HTTPSAddr after apply
	}{
		{name: "off by default"},
		{name: "port, controller and token", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "https://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, addr: ":443"},
		{name: "flags", env: map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "t"}, args: []string{"--https-port", "8443", "--controller", "127.0.0.1:3000", "--listen", "127.0.0.1:8080"}, addr: "127.0.0.1:8443"},
		{name: "plain HTTP to another machine", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "--insecure-controller (LONGSHOREMAN_INSECURE_CONTROLLER)"},
		{name: "host:port is plain HTTP", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "ctl.example.com:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "is http://ctl.example.com:3000, plain HTTP to another machine"},
		{name: "plain HTTP accepted by the variable", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t", "LONGSHOREMAN_INSECURE_CONTROLLER": "1"}, addr: ":443"},
		{name: "plain HTTP accepted by the flag", env: map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "t"}, args: []string{"--https-port", "443", "--controller", "http://10.0.0.1:3000", "--insecure-controller"}, addr: ":443"},
		{name: "plain HTTP to localhost", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://localhost:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, addr: ":443"},
		{name: "plain HTTP to IPv6 loopback", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://[::1]:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, addr: ":443"},
		{name: "HTTPS off: the URL fetches nothing", env: map[string]string{"LONGSHOREMAN_URL": "http://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}},
		{name: "controller without token", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:8080"}, wantErr: "LONGSHOREMAN_ROUTER_TOKEN is not set"},
		{name: "https without controller", env: map[string]string{"HTTPS_PORT": "443"}, wantErr: "--controller (LONGSHOREMAN_URL) is not set"},
		{name: "bad port", env: map[string]string{"HTTPS_PORT": "70000", "LONGSHOREMAN_URL": "https://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "--https-port (HTTPS_PORT) is 70000"},
		{name: "same port as HTTP", env: map[string]string{"PORT": "8080", "HTTPS_PORT": "8080", "LONGSHOREMAN_URL": "https://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "the HTTP port too"},
		{name: "bad scheme", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "ftp://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "the scheme must be http or https"},
		{name: "missing CA file", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "https://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t", "LONGSHOREMAN_CACERT": "/nonexistent/ca.pem"}, wantErr: "LONGSHOREMAN_CACERT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := LoadRouterConfig(tc.args, func(k string) string { return env[k] }, io.Discard)
			var run router.RunConfig
			if err == nil {
				err = c.HTTPS.apply(&run, c.Listen)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if run.HTTPSAddr != tc.addr {
				t.Fatalf("HTTPSAddr %q, want %q", run.HTTPSAddr, tc.addr)
			}
			if tc.addr != "" && (run.Controller == "" || run.RouterToken != "t" || run.ControllerTLS == nil) {
				t.Fatalf("controller not passed on: %+v", run)
			}
		})
	}
}

func TestRouterLimitSettingsRefused(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{args: []string{"--backend-timeout", "0s"}, want: "--backend-timeout (LONGSHOREMAN_BACKEND_TIMEOUT) must be a duration above zero"},
		{args: []string{"--header-timeout", "-1s"}, want: "--header-timeout (LONGSHOREMAN_HEADER_TIMEOUT) must be a duration above zero"},
		{args: []string{"--idle-timeout", "0s"}, want: "--idle-timeout (LONGSHOREMAN_IDLE_TIMEOUT) must be a duration above zero"},
		{args: []string{"--body-rate-window", "0s"}, want: "--body-rate-window (LONGSHOREMAN_BODY_RATE_WINDOW) must be a duration above zero"},
		{args: []string{"--min-body-rate", "-5"}, want: "--min-body-rate (LONGSHOREMAN_MIN_BODY_RATE) must be bytes per second"},
		{args: []string{"--max-conns", "-1"}, want: "--max-conns (LONGSHOREMAN_MAX_CONNS) must be 0 or more"},
		{args: []string{"--trust-forwarded", "10.0.0.0/8,proxy.lan"}, want: `--trust-forwarded (LONGSHOREMAN_TRUST_FORWARDED) is not usable: "proxy.lan" is neither a CIDR`},
		{args: []string{"--backend-timeout", "soon"}, want: "backend-timeout"},
		{env: map[string]string{"LONGSHOREMAN_BACKEND_TIMEOUT": "60"}, want: `LONGSHOREMAN_BACKEND_TIMEOUT="60" is not a duration`},
		{env: map[string]string{"LONGSHOREMAN_MAX_CONNS": "lots"}, want: `LONGSHOREMAN_MAX_CONNS="lots" is not a whole number`},
		{env: map[string]string{"LONGSHOREMAN_MIN_BODY_RATE": "1k"}, want: `LONGSHOREMAN_MIN_BODY_RATE="1k" is not a whole number`},
		{env: map[string]string{"LONGSHOREMAN_TRUST_FORWARDED": "10.0.0.0/40"}, want: `--trust-forwarded (LONGSHOREMAN_TRUST_FORWARDED) is not usable: "10.0.0.0/40" is not a CIDR`},
	} {
		env := map[string]string{"LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_PORT": "1"}
		for k, v := range tc.env {
			env[k] = v
		}
		c := &RouterCommand{Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Run(ctx, tc.args)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err %v, want it to contain %q", tc.env, tc.args, err, tc.want)
		}
	}
}

// TestLoadACMEConfig reads the ACME settings and refuses bad ones, each
// message naming its setting.
func TestLoadACMEConfig(t *testing.T) {
	caFile := filepath.Join(testenv.NewTLSCerts(t, "127.0.0.1").Dir, "ca.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, c := range []struct {
		name string
		env  map[string]string
		want ACMEConfig
		err  string
	}{
		{name: "off by default"},
		{name: "on", env: map[string]string{"LONGSHOREMAN_ACME_EMAIL": "ops@example.com", "LONGSHOREMAN_ACME_DIRECTORY": "https://ca.example/dir",
			"LONGSHOREMAN_ACME_CA": caFile, "LONGSHOREMAN_ACME_RENEW_BEFORE": "720h", "LONGSHOREMAN_ROUTER_TOKEN": "router-token-0123456789"},
			want: ACMEConfig{Email: "ops@example.com", Directory: "https://ca.example/dir", CA: caFile, RenewBefore: 720 * time.Hour, RouterToken: "router-token-0123456789"}},
		{name: "short router token", env: map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "abc"}, err: "LONGSHOREMAN_ROUTER_TOKEN is 3 characters long"},
		{name: "bad e-mail", env: map[string]string{"LONGSHOREMAN_ACME_EMAIL": "ops"}, err: "LONGSHOREMAN_ACME_EMAIL"},
		{name: "bad directory", env: map[string]string{"LONGSHOREMAN_ACME_DIRECTORY": "ca.example/dir"}, err: "LONGSHOREMAN_ACME_DIRECTORY"},
		{name: "missing CA file", env: map[string]string{"LONGSHOREMAN_ACME_CA": "/nonexistent/ca.pem"}, err: "LONGSHOREMAN_ACME_CA"},
		{name: "CA file not PEM", env: map[string]string{"LONGSHOREMAN_ACME_CA": notPEM}, err: "holds no PEM certificate"},
		{name: "negative renew-before", env: map[string]string{"LONGSHOREMAN_ACME_RENEW_BEFORE": "-1h"}, err: "LONGSHOREMAN_ACME_RENEW_BEFORE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := LoadServeConfig(nil, func(k string) string { return c.env[k] }, io.Discard)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one naming %s", err, c.err)
				}
				return
			}
			if err != nil || cfg.ACME != c.want {
				t.Fatalf("ACME config %+v, %v; want %+v", cfg.ACME, err, c.want)
			}
		})
	}
}

// TestRedisSentinelValidate checks the Sentinel settings of the Redis
// configuration serve and router share: each mistake is named with its
// variable and what to give instead, and a good one is accepted.
func TestRedisSentinelValidate(t *testing.T) {
	good := RedisConfig{Addr: "127.0.0.1:6379", Channel: cluster.DefaultChannel}
	for _, tc := range []struct {
		name  string
		set   func(*RedisConfig)
		names []string // nil: accepted
	}{
		{"no sentinels", func(c *RedisConfig) {}, nil},
		{"three sentinels", func(c *RedisConfig) { c.Sentinels, c.Master = "h1:26379,h2:26379,h3:26379", "mymaster" }, nil},
		{"spaces and a trailing comma", func(c *RedisConfig) { c.Sentinels, c.Master = " h1:26379, h2:26379 ,", "mymaster" }, nil},
		{"sentinels make --redis unused", func(c *RedisConfig) { c.Sentinels, c.Master, c.Addr = "h1:26379", "m", "no port" }, nil},
		{"sentinels without master", func(c *RedisConfig) { c.Sentinels = "h1:26379" }, []string{"--redis-master (REDIS_MASTER)", "is not set", "sentinel masters"}},
		{"sentinels with blank master", func(c *RedisConfig) { c.Sentinels, c.Master = "h1:26379", "  " }, []string{"--redis-master (REDIS_MASTER)", "is not set"}},
		{"master without sentinels", func(c *RedisConfig) { c.Master = "mymaster" }, []string{"--redis-master (REDIS_MASTER)", "--redis-sentinels (REDIS_SENTINELS) is not set"}},
		{"sentinel without port", func(c *RedisConfig) { c.Sentinels, c.Master = "h1:26379,h2", "m" }, []string{"--redis-sentinels (REDIS_SENTINELS)", `"h2"`, "host:port"}},
		{"sentinel port text", func(c *RedisConfig) { c.Sentinels, c.Master = "h1:sentinel", "m" }, []string{"--redis-sentinels (REDIS_SENTINELS)", "1 to 65535"}},
		{"sentinel port 0", func(c *RedisConfig) { c.Sentinels, c.Master = "h1:0", "m" }, []string{"--redis-sentinels (REDIS_SENTINELS)", "1 to 65535"}},
		{"only commas", func(c *RedisConfig) { c.Sentinels, c.Master = ",,", "m" }, []string{"--redis-sentinels (REDIS_SENTINELS)", `",,"`, "unset it"}},
	} {
		c := good
		tc.set(&c)
		err := c.Validate()
		if tc.names == nil {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		wantNamed(t, tc.name, err, tc.names...)
	}
}

// TestRedisSentinelSettingsLoad reads the Sentinel settings from the
// environment and the flags, the same for serve and router.
func TestRedisSentinelSettingsLoad(t *testing.T) {
	env := map[string]string{"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379", "REDIS_MASTER": "main",
		"REDIS_PASSWORD": "pw", "LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_ROUTES_KEY": "routes-key-0123456789"}
	getenv := func(k string) string { return env[k] }
	s, err := LoadServeConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRouterConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]RedisConfig{"serve": s.Redis, "router": r.Redis} {
		if c.Sentinels != env["REDIS_SENTINELS"] || c.Master != "main" || c.Password != "pw" {
			t.Errorf("%s from the environment: %+v", name, c)
		}
		if got, want := c.Where(), "master main of sentinels 10.0.0.1:26379,10.0.0.2:26379"; got != want {
			t.Errorf("%s: Where() = %q, want %q", name, got, want)
		}
	}
	s, err = LoadServeConfig([]string{"--redis-sentinels", "s1:26379", "--redis-master", "other"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Redis.Sentinels != "s1:26379" || s.Redis.Master != "other" {
		t.Errorf("flags over the environment: %+v", s.Redis)
	}
	env["REDIS_MASTER"] = ""
	if _, err := LoadRouterConfig(nil, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "REDIS_MASTER") {
		t.Errorf("router with sentinels and no master: %v, want an error naming REDIS_MASTER", err)
	}
}

// TestLogLevel: the logger of --log-level drops what is below its level,
// in both formats.
func TestLogLevel(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var out strings.Builder
		l := newLogger(&out, format, "warn")
		l.Info("an info line")
		l.Warn("a warning")
		if got := out.String(); strings.Contains(got, "an info line") || !strings.Contains(got, "a warning") {
			t.Errorf("%s at warn wrote %q; want the warning only", format, got)
		}
		out.Reset()
		newLogger(&out, format, "debug").Debug("a debug line")
		if !strings.Contains(out.String(), "a debug line") {
			t.Errorf("%s at debug wrote %q; want the debug line", format, out.String())
		}
	}
}
