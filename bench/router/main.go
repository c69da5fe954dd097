// Command router-bench holds the pieces of the router benchmarks that
// bench/router/run.sh drives: a tiny HTTP backend, the router serving a
// static table (no Redis, so only the proxy is measured), and the routing
// table propagation measurement through a real redis-server.
//
//	router-bench backend -addr 127.0.0.1:18081
//	router-bench router -addr 127.0.0.1:18082 -host bench.example.com -backend 127.0.0.1:18081
//	router-bench propagation -redis 127.0.0.1:6379 -n 1000 -spacing 10ms
//	router-bench cert -host localhost -out DIR    # DIR/cert.pem, DIR/key.pem
//	router-bench router -addr 127.0.0.1:18085 -tls-cert DIR/cert.pem -tls-key DIR/key.pem ...
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: router-bench backend|router|propagation [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "backend":
		err = runBackend(ctx, os.Args[2:])
	case "router":
		err = runRouter(ctx, os.Args[2:])
	case "propagation":
		err = runPropagation(ctx, os.Args[2:])
	case "cert":
		err = runCert(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "router-bench:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// runBackend answers every request with a small fixed body, like a typical
// JSON API answer.
func runBackend(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18081", "listen address")
	size := fs.Int("size", 128, "response body size in bytes")
	fs.Parse(args)
	body := []byte(strings.Repeat("x", *size-1) + "\n")
	return serve(ctx, *addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
}

// runRouter serves the real router.Router with a static table, through
// its connection loop as router.Run does (router.Serve), or with
// -reverseproxy-only through net/http's server and httputil.ReverseProxy.
func runRouter(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("router", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18082", "listen address")
	host := fs.String("host", "bench.example.com", "app name (Host header)")
	backends := fs.String("backend", "127.0.0.1:18081", "comma-separated instance addresses")
	rpOnly := fs.Bool("reverseproxy-only", false, "turn off the router's fast path")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate (and -tls-key), with the router's TLS settings")
	keyFile := fs.String("tls-key", "", "the PEM key of -tls-cert")
	noResume := fs.Bool("no-resume", false, "refuse TLS session resumption, so that every handshake is a full one")
	noTraffic := fs.Bool("no-traffic", false, "turn off the counting of the traffic (router.Config.NoTraffic)")
	fs.Parse(args)
	r := router.New(router.Config{ReverseProxyOnly: *rpOnly, NoTraffic: *noTraffic, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "bench", Routes: map[string][]string{*host: strings.Split(*backends, ",")}})
	var tlsConfig *tls.Config
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return err
		}
		// The router's configuration, with the one certificate for every
		// name as the bench runs against localhost.
		tlsConfig = router.ServerTLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })
		tlsConfig.SessionTicketsDisabled = *noResume
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, TLSConfig: tlsConfig}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *rpOnly {
		go func() {
			<-ctx.Done()
			srv.Close()
		}()
		if tlsConfig != nil {
			l = tls.NewListener(l, tlsConfig)
		}
		if err := srv.Serve(l); err != http.ErrServerClosed {
			return err
		}
		return nil
	}
	return router.Serve(ctx, l, srv, nil, time.Second)
}

// runCert writes a self-signed ECDSA P-256 certificate for -host and its
// key to -out/cert.pem and -out/key.pem: the one both the router and nginx
// serve in the HTTPS runs.
func runCert(args []string) error {
	fs := flag.NewFlagSet("cert", flag.ExitOnError)
	host := fs.String("host", "localhost", "the name the certificate is for")
	out := fs.String("out", ".", "directory to write cert.pem and key.pem to")
	fs.Parse(args)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: *host}, DNSNames: []string{*host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

// benchSource is a TableSource whose version rises on every bump.
type benchSource struct {
	mu sync.Mutex // guards t
	t  cluster.RoutingTable
}

func (s *benchSource) RoutingTable() (cluster.RoutingTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.t
	t.Time = time.Now().UTC()
	return t, nil
}

func (s *benchSource) bump() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Version++
	s.t.Routes = map[string][]string{"bench.example.com": {fmt.Sprintf("10.0.0.5:%d", 30000+s.t.Version%30000), "10.0.0.6:32771"}}
	return s.t.Version
}

// runPropagation measures the time from Changed() (the source already holds
// the new routes) to the subscriber's apply callback.
func runPropagation(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("propagation", flag.ExitOnError)
	addr := fs.String("redis", "127.0.0.1:6379", "redis-server host:port")
	n := fs.Int("n", 1000, "number of changes")
	spacing := fs.Duration("spacing", 10*time.Millisecond, "pause between an apply and the next change")
	coalesce := fs.Duration("coalesce", pubsub.DefaultCoalesce, "publisher burst window")
	fs.Parse(args)

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pc := pubsub.NewClient(pubsub.Options{Addr: *addr})
	sc := pubsub.NewClient(pubsub.Options{Addr: *addr})
	defer pc.Close()
	defer sc.Close()
	b := make([]byte, 6)
	rand.Read(b)
	ch := "longshoreman.bench." + hex.EncodeToString(b)

	// Signed and verified as in production: the HMAC is part of the cost.
	key := []byte("bench-routes-key-0123456789abcdef")
	src := &benchSource{t: cluster.RoutingTable{Version: 1, Epoch: uint64(time.Now().UnixNano()), Cluster: "bench", Controller: "bench", Routes: map[string][]string{}}}
	pub := pubsub.NewPublisher(pubsub.PublisherConfig{Client: pc, Channel: ch, Source: src, Republish: time.Hour, Coalesce: *coalesce, Logger: logger, Key: key})
	sub := pubsub.NewSubscriber(pubsub.SubscriberConfig{Client: sc, Channel: ch, Logger: logger, Keys: [][]byte{key}})
	applied := make(chan uint64, 16)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { pub.Run(ctx) })
	wg.Go(func() { sub.Run(ctx, func(t cluster.RoutingTable) { applied <- t.Version }) })
	defer wg.Wait()
	defer cancel()

	wait := func(v uint64) error {
		timeout := time.After(5 * time.Second)
		for {
			select {
			case got := <-applied:
				if got >= v {
					return nil
				}
			case <-timeout:
				return fmt.Errorf("version %d not applied within 5s", v)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if err := wait(1); err != nil {
		return err
	}
	lat := make([]time.Duration, 0, *n)
	for range *n {
		if *spacing > 0 {
			time.Sleep(*spacing)
		}
		v := src.bump()
		start := time.Now()
		pub.Changed()
		if err := wait(v); err != nil {
			return err
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("changes=%d spacing=%s coalesce=%s p50=%s p90=%s p99=%s max=%s\n",
		*n, *spacing, *coalesce, us(q(0.50)), us(q(0.90)), us(q(0.99)), us(lat[len(lat)-1]))
	return nil
}

func us(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }
