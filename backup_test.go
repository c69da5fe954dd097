package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// callWithin sends an authenticated request that must be answered within
// limit (a generous bound: it fails only when the controller hangs).
func callWithin(t *testing.T, c *ServeCommand, limit time.Duration, method, path, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, c.URL()+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer within %s while a backup is read slowly: %v", method, path, limit, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSlowBackupDoesNotBlock reads GET /backup at about 2 KB/s from a
// data file of some megabytes while other clients write enough for bbolt to
// grow (remap) the file, deploy an app and read /healthz, /apps and
// /history: they must all be answered while the backup is still being read.
func TestSlowBackupDoesNotBlock(t *testing.T) {
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	fillDataFile(t, path, 14<<20)

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c := MustServe(t, path, nil)
	backupRead := slowBackupReader(t, c.URL())

	deadline := 2 * time.Minute
	for _, h := range hosts {
		callWithin(t, c, deadline, "POST", "/hosts", `{"host":"`+h+`"}`)
	}
	value := strings.Repeat("v", cluster.MaxEnvValueLength)
	for i := range 160 {
		app := fmt.Sprintf("/grow%d.example.com", i)
		if status, b := callWithin(t, c, deadline, "POST", "/apps", `{"app":"`+app[1:]+`"}`); status != 200 {
			t.Fatalf("POST /apps = %d %s", status, b)
		}
		if status, b := callWithin(t, c, deadline, "POST", app+"/envs", `{"env":"V=`+value+`"}`); status != 200 {
			t.Fatalf("POST envs = %d %s", status, b)
		}
	}
	app := testenv.UniqueApp(t, "backup")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	if status, b := callWithin(t, c, 5*time.Minute, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`); status != 200 {
		t.Fatalf("deploy while a backup is read slowly = %d %s", status, b)
	}
	for _, p := range []string{"/healthz", "/apps", "/" + app + "/history"} {
		if status, b := callWithin(t, c, deadline, "GET", p, ""); status != 200 {
			t.Fatalf("GET %s = %d %s", p, status, b)
		}
	}
	// Had the backup ended, nothing above would have been held up.
	if got := backupRead.Load(); got <= 0 || got >= st.Size() {
		t.Fatalf("the backup client read %d of %d bytes; want it still reading", got, st.Size())
	}
}

// fillDataFile writes apps with large envs into a new data file at path
// until it holds about size bytes.
func fillDataFile(t *testing.T, path string, size int64) {
	t.Helper()
	d, err := db.Open(path, db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	value := strings.Repeat("x", cluster.MaxEnvValueLength)
	for i := 0; d.Size() < size; i++ {
		name := fmt.Sprintf("fill%d.example.com", i)
		if _, err := d.CreateApp(name); err != nil {
			t.Fatal(err)
		}
		if _, err := d.UpdateApp(name, func(a *cluster.App) error {
			a.Envs["A"], a.Envs["B"] = value, value
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// slowBackupReader starts GET /backup on a connection with a small receive
// buffer and reads it at about 2 KB/s until the test ends. It returns the
// count of body bytes read so far.
func slowBackupReader(t *testing.T, baseURL string) *atomic.Int64 {
	t.Helper()
	dialer := net.Dialer{Control: func(_, _ string, raw syscall.RawConn) error {
		var serr error
		err := raw.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := dialer.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /backup HTTP/1.1\r\nHost: x\r\nX-Auth: t0ken-0123456789\r\n\r\n")
	br := bufio.NewReaderSize(conn, 2048)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /backup: %v %v", resp, err)
	}
	var read atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 2048)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			n, err := io.ReadFull(resp.Body, buf)
			read.Add(int64(n))
			if err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		conn.Close()
		<-stopped
	})
	return &read
}
