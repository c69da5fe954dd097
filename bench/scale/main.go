// Command scale measures how the controller's costs grow with the cluster:
// API latency of the read endpoints at 32 concurrent clients, routing-table
// build and publish time through a real redis-server, one reconcile pass
// (wall and CPU time), the health checks' rate and CPU cost and how fast an
// instance failing its check leaves the routing table, controller RSS and
// data-file size, at 100, 1,000 and 10,000 instances (10 instances per app,
// up to 100 hosts).
//
//	go run ./bench/scale -instances 100,1000,10000
//	go run ./bench/scale -instances 10000 -profile /tmp/prof
//
// Hosts are the loopback addresses 127.0.1.1 ... 127.0.1.H. Their Docker
// APIs are fakedocker.Server servers in a child process, so the
// controller's RSS and CPU time are measured alone; every started fake
// container listens on its published port, so health checks are real HTTP
// (healthswitch.go answers them, and makes chosen ones fail).
// Each size runs in a fresh controller process (this binary, re-executed
// with -point) so that one size's heap does not inflate the next one's RSS.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/longshoreman/longshoreman/internal/fakedocker"
	"github.com/longshoreman/longshoreman/scheduler"
)

func main() {
	var (
		instances  = flag.String("instances", "100,1000,10000", "comma-separated instance counts to measure")
		point      = flag.Int("point", 0, "internal: measure one size in this process and print its JSON result")
		fake       = flag.Bool("fake-engine", false, "internal: serve the fake Docker engines until stdin closes")
		hosts      = flag.Int("hosts", 0, "internal (with -fake-engine): number of hosts")
		dockerPort = flag.Int("docker-port", 23750, "port of the fake Docker API on every host address")
		redisAddr  = flag.String("redis", "", "host:port of a redis-server to publish to; default: start one on a free loopback port (skipped when redis-server is missing)")
		duration   = flag.Duration("duration", 3*time.Second, "load duration per endpoint")
		clients    = flag.Int("clients", 32, "concurrent API clients")
		passes     = flag.Int("passes", 5, "reconcile passes measured (after one warm-up pass)")
		changes    = flag.Int("changes", 20, "routing-table changes measured")
		populate   = flag.String("populate", "auto", "how state is created: scheduler (real deploys through the fake engines), db (containers created through the real Docker adapter, records written through db), auto (scheduler up to 1,000 instances, db above)")
		parallel   = flag.Int("deploy-parallel", 8, "deploys run at once when populating through the scheduler")
		profile    = flag.String("profile", "", "directory for CPU profiles of each measurement (N-describe.pprof, N-reconcile.pprof, ...)")
		dir        = flag.String("dir", "", "directory for the data file; default a fresh temporary directory")
		verbose    = flag.Bool("v", false, "log progress of each size on stderr")
		probeEvery = flag.Duration("probe-interval", scheduler.DefaultProbeInterval, "interval between two health checks of one instance, as serve's --probe-interval")
		maxProbes  = flag.Int("max-probes", scheduler.DefaultMaxProbes, "health checks in flight at most")
	)
	flag.Parse()

	if *fake {
		if err := runFakeEngines(*hosts, *dockerPort); err != nil {
			fmt.Fprintln(os.Stderr, "scale: fake engines:", err)
			os.Exit(1)
		}
		return
	}
	cfg := pointConfig{
		Instances: *point, DockerPort: *dockerPort, Redis: *redisAddr, Duration: *duration, Clients: *clients,
		Passes: *passes, Changes: *changes, Populate: *populate, Parallel: *parallel, Profile: *profile, Dir: *dir, Verbose: *verbose,
		ProbeInterval: *probeEvery, MaxProbes: *maxProbes,
	}
	if cfg.ProbeInterval <= 0 || cfg.MaxProbes <= 0 {
		fmt.Fprintln(os.Stderr, "scale: -probe-interval and -max-probes must be positive")
		os.Exit(2)
	}
	if *point > 0 {
		res, err := runPoint(cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return
	}

	var sizes []int
	for _, s := range strings.Split(*instances, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 || n%10 != 0 {
			fmt.Fprintf(os.Stderr, "scale: -instances: %q is not a multiple of 10 of at least 10\n", s)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	if cfg.Redis == "" {
		addr, stop, err := startRedis()
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale: no redis-server, the publish half is skipped:", err)
		} else {
			defer stop()
			cfg.Redis = addr
		}
	}
	var results []PointResult
	for _, n := range sizes {
		fmt.Fprintf(os.Stderr, "scale: measuring %d instances...\n", n)
		res, err := runPointProcess(n, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		results = append(results, res)
	}
	report(os.Stdout, results, cfg, strings.Join(os.Args[1:], " "))
}

// runPointProcess measures one size in a fresh copy of this program.
func runPointProcess(n int, cfg pointConfig) (PointResult, error) {
	self, err := os.Executable()
	if err != nil {
		return PointResult{}, err
	}
	args := []string{
		"-point", strconv.Itoa(n), "-docker-port", strconv.Itoa(cfg.DockerPort), "-redis", cfg.Redis,
		"-duration", cfg.Duration.String(), "-clients", strconv.Itoa(cfg.Clients), "-passes", strconv.Itoa(cfg.Passes),
		"-changes", strconv.Itoa(cfg.Changes), "-populate", cfg.Populate, "-deploy-parallel", strconv.Itoa(cfg.Parallel),
		"-profile", cfg.Profile, "-dir", cfg.Dir,
		"-probe-interval", cfg.ProbeInterval.String(), "-max-probes", strconv.Itoa(cfg.MaxProbes),
	}
	if cfg.Verbose {
		args = append(args, "-v")
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return PointResult{}, fmt.Errorf("measuring %d instances: %v", n, err)
	}
	var res PointResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return PointResult{}, fmt.Errorf("measuring %d instances: bad result %q: %v", n, out.String(), err)
	}
	return res, nil
}

// hostAddr returns the i-th host address (0-based): 127.0.1.1, 127.0.1.2...
func hostAddr(i int) string {
	return fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
}

// runFakeEngines serves one fakedocker.Server per host address until stdin
// closes (the controller process that started it ended). Each line on stdin
// switches a fake container's health check (see healthSwitch).
func runFakeEngines(hosts, port int) error {
	if hosts <= 0 {
		return fmt.Errorf("-hosts must be positive")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, hosts)
	health := newHealthSwitch()
	for i := range hosts {
		f := fakedocker.NewServer(hostAddr(i), port, 30000)
		f.SetInstanceHandler(health)
		go func() { errc <- f.Serve(ctx) }()
	}
	// Ready once every API answers.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < hosts; {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(hostAddr(i), strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			i++
			continue
		}
		select {
		case err := <-errc:
			return err
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fake engine on %s does not listen: %v", hostAddr(i), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("ready")
	go func() {
		defer cancel() // EOF when the parent ends
		lines := bufio.NewScanner(os.Stdin)
		for lines.Scan() {
			if err := health.command(lines.Text()); err != nil {
				fmt.Fprintln(os.Stderr, "scale: fake engines:", err)
			}
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// startFakeEngines starts the fake engines' process and waits until they
// listen. stop ends it; setFailing switches the health check of the fake
// container published on addr to fail (500) or pass.
func startFakeEngines(hosts, port int) (stop func(), setFailing func(addr string, failing bool) error, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, "-fake-engine", "-hosts", strconv.Itoa(hosts), "-docker-port", strconv.Itoa(port))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, nil, fmt.Errorf("fake engines did not start (%q, %v)", line, err)
	}
	setFailing = func(addr string, failing bool) error {
		verb := "ok"
		if failing {
			verb = "fail"
		}
		_, err := fmt.Fprintf(stdin, "%s %s\n", verb, addr)
		return err
	}
	return func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}, setFailing, nil
}

// startRedis starts a private redis-server on a free loopback port.
func startRedis() (addr string, stop func(), err error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "scale-redis-")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not start", addr)
}
