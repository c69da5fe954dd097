package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RedisServer is a redis-server process owned by one test, so the test can
// stop and start it as a real fault.
type RedisServer struct {
	Addr string
	dir  string
	tb   testing.TB

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// StartRedis starts a private redis-server on a free loopback port; it is
// stopped when the test ends.
func StartRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	need(tb, EnvRedis, "redis-server")
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server not found in PATH: %v", err)
	}
	s := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(tb))), dir: tb.TempDir(), tb: tb}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// Start starts the server (again) on its address and waits until it answers.
func (s *RedisServer) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.tb.Fatalf("redis-server on %s did not answer within 10s", s.Addr)
}

// Stop kills the server (SIGKILL: a real fault) and waits for it to exit.
func (s *RedisServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Environment variables of the Sentinel-watched Redis that scripts/test
// starts: a master, a replica and three sentinels.
const (
	EnvSentinels   = "LONGSHOREMAN_TEST_SENTINELS"    // host:port,... of the three sentinels
	EnvRedisMaster = "LONGSHOREMAN_TEST_REDIS_MASTER" // the name they monitor the master under
)

// Sentinels returns the shared sentinels' addresses (comma-separated, as
// REDIS_SENTINELS takes them) and the master's name. Tests must not kill
// its master: the next test would find it failed over. Use StartSentinels
// for faults.
func Sentinels(tb testing.TB) (addrs, master string) {
	tb.Helper()
	addrs = need(tb, EnvSentinels, "Redis sentinels watching a master and a replica")
	master = need(tb, EnvRedisMaster, "the name the test sentinels monitor their master under")
	return addrs, master
}

// SentinelSet is a Redis master, a replica and three sentinels owned by one
// test, on free loopback ports, with a failover that takes seconds: the
// master is judged down after 1s without an answer. Everything is killed
// when the test ends.
type SentinelSet struct {
	Master    string   // the name the sentinels monitor
	Sentinels []string // host:port of each sentinel
	tb        testing.TB
	dir       string

	mu    sync.Mutex // guards redis
	redis map[string]*exec.Cmd
}

// StartSentinels starts a private set and waits until every sentinel
// knows the replica and the two other sentinels, so a failover can happen.
func StartSentinels(tb testing.TB) *SentinelSet {
	tb.Helper()
	Sentinels(tb) // skips locally, like every Sentinel test, unless scripts/test runs
	for _, bin := range []string{"redis-server", "redis-sentinel"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatalf("%s not found in PATH (apt-get install redis-sentinel): %v", bin, err)
		}
	}
	s := &SentinelSet{Master: "longshoreman-private", tb: tb, dir: tb.TempDir(), redis: map[string]*exec.Cmd{}}
	tb.Cleanup(s.stopAll)
	master := Addr("127.0.0.1", FreePort(tb))
	s.StartRedis(master, "")
	s.StartRedis(Addr("127.0.0.1", FreePort(tb)), master)
	_, mport, _ := net.SplitHostPort(master)
	for i := 0; i < 3; i++ {
		port := FreePort(tb)
		conf := filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.conf", port))
		// Sentinel rewrites its config file: it must be writable and its own.
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n", port, s.dir,
			filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.log", port)))
		text += fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 2\n", s.Master, mport)
		for _, o := range []string{"down-after-milliseconds %s 1000", "failover-timeout %s 5000", "parallel-syncs %s 1"} {
			text += "sentinel " + fmt.Sprintf(o, s.Master) + "\n"
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
		addr := Addr("127.0.0.1", port)
		s.start(addr, exec.Command("redis-sentinel", conf))
		s.Sentinels = append(s.Sentinels, addr)
	}
	s.WaitReady(30 * time.Second)
	return s
}

// Addrs returns the sentinels as REDIS_SENTINELS takes them.
func (s *SentinelSet) Addrs() string { return strings.Join(s.Sentinels, ",") }

// StartRedis starts a redis-server on addr, a replica of replicaOf unless
// that is empty, and waits until it answers.
func (s *SentinelSet) StartRedis(addr, replicaOf string) {
	s.tb.Helper()
	_, port, _ := net.SplitHostPort(addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--dbfilename", "dump-" + port + ".rdb", "--logfile", filepath.Join(s.dir, "redis-"+port+".log")}
	if replicaOf != "" {
		h, p, _ := net.SplitHostPort(replicaOf)
		args = append(args, "--replicaof", h, p)
	}
	s.start(addr, exec.Command("redis-server", args...))
}

func (s *SentinelSet) start(addr string, cmd *exec.Cmd) {
	s.tb.Helper()
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start %s on %s: %v", cmd.Path, addr, err)
	}
	s.mu.Lock()
	s.redis[addr] = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := Command(addr, "PING"); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.tb.Fatalf("%s on %s did not answer PING within 10s", cmd.Path, addr)
}

// KillMaster kills -9 the redis-server the sentinels name as master and
// returns its address.
func (s *SentinelSet) KillMaster() string {
	s.tb.Helper()
	addr := s.MasterAddr()
	s.mu.Lock()
	cmd := s.redis[addr]
	delete(s.redis, addr)
	s.mu.Unlock()
	if cmd == nil {
		s.tb.Fatalf("the sentinels name %s as master, which this set did not start", addr)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return addr
}

// MasterAddr asks the first sentinel that answers for the master's address.
func (s *SentinelSet) MasterAddr() string {
	s.tb.Helper()
	var last error
	for _, sn := range s.Sentinels {
		out, err := Command(sn, "SENTINEL", "get-master-addr-by-name", s.Master)
		if err == nil && len(out) == 2 {
			return Addr(out[0], atoi(out[1]))
		}
		last = fmt.Errorf("%s: %v %q", sn, err, out)
	}
	s.tb.Fatalf("no sentinel names the master %s: %v", s.Master, last)
	return ""
}

// WaitFailover waits until every sentinel names a master other than old
// and that master answers as a master.
func (s *SentinelSet) WaitFailover(old string, timeout time.Duration) string {
	s.tb.Helper()
	deadline := time.Now().Add(timeout)
	var state string
	for time.Now().Before(deadline) {
		addrs := map[string]bool{}
		for _, sn := range s.Sentinels {
			if out, err := Command(sn, "SENTINEL", "get-master-addr-by-name", s.Master); err == nil && len(out) == 2 {
				addrs[Addr(out[0], atoi(out[1]))] = true
			}
		}
		state = fmt.Sprint(addrs)
		if len(addrs) == 1 && !addrs[old] {
			for a := range addrs {
				if role, err := Command(a, "ROLE"); err == nil && len(role) > 0 && role[0] == "master" {
					return a
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("the sentinels did not fail over from %s within %s: they name %s\n%s", old, timeout, state, s.Logs())
	return ""
}

// WaitReady waits until every sentinel sees the master up, the two other
// sentinels, and one replica that is up and linked to the master: only
// then can the sentinels fail over.
func (s *SentinelSet) WaitReady(timeout time.Duration) {
	s.tb.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ready := true
		for _, sn := range s.Sentinels {
			out, err := Command(sn, "SENTINEL", "master", s.Master)
			f := fields(out)
			if err != nil || f["num-slaves"] != "1" || f["num-other-sentinels"] != "2" || f["flags"] != "master" {
				ready = false
				last = fmt.Sprintf("%s: %v %v", sn, err, f)
				break
			}
			out, err = Command(sn, "SENTINEL", "replicas", s.Master)
			if r := fields(out); err != nil || r["flags"] != "slave" || r["master-link-status"] != "ok" {
				ready = false
				last = fmt.Sprintf("%s: replica %v %v", sn, err, r)
				break
			}
		}
		if ready {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("sentinels not ready within %s: %s\n%s", timeout, last, s.Logs())
}

// Logs returns the sentinels' logs, for failure messages.
func (s *SentinelSet) Logs() string {
	var b strings.Builder
	for _, sn := range s.Sentinels {
		_, port, _ := net.SplitHostPort(sn)
		data, _ := os.ReadFile(filepath.Join(s.dir, "sentinel-"+port+".log"))
		fmt.Fprintf(&b, "--- sentinel %s\n%s", sn, data)
	}
	return b.String()
}

func (s *SentinelSet) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for addr, cmd := range s.redis {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		delete(s.redis, addr)
	}
}

// Command sends one command to the Redis (or sentinel) at addr with
// redis-cli and returns its reply, one line per element.
func Command(addr string, args ...string) ([]string, error) {
	h, p, _ := net.SplitHostPort(addr)
	out, err := exec.Command("redis-cli", append([]string{"-h", h, "-p", p, "--no-raw"}, args...)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redis-cli %s: %v: %s", strings.Join(args, " "), err, out)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "(error)") {
			return nil, fmt.Errorf("redis-cli %s: %s", strings.Join(args, " "), line)
		}
		// --no-raw prints arrays as `1) "value"`, nested ones as
		// `1)  1) "value"`; keep the value.
		for i := strings.Index(line, ") "); i > 0 && isDigits(line[:i]); i = strings.Index(line, ") ") {
			line = strings.TrimSpace(line[i+2:])
		}
		lines = append(lines, strings.Trim(line, `"`))
	}
	return lines, nil
}

// fields turns a flat name, value, name, value reply into a map.
func fields(reply []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(reply); i += 2 {
		m[reply[i]] = reply[i+1]
	}
	return m
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
