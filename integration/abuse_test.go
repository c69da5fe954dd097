package integration

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"
)

// TestSlowClientsAreCutOff opens connections that send a partial header, or
// a header and then a body too slowly, and checks the controller closes
// them after its timeouts while it keeps answering others.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	base := map[string]string{"LONGSHOREMAN_DB": filepath.Join(t.TempDir(), "ls.db"), "LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_PORT": "1", "LONGSHOREMAN_INIT": "1"}
	c := mustOpenServe(t, base, io.Discard, func(cfg *command.ServeConfig) {
		cfg.Timeouts = command.ServerTimeouts{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond, Idle: 300 * time.Millisecond}
	})
	addr := strings.TrimPrefix(c.URL(), "http://")

	for name, send := range map[string]string{
		"partial header": "GET /apps HTTP/1.1\r\nHost: x\r\nX-Auth: t0",
		"slow body":      "POST /apps HTTP/1.1\r\nHost: x\r\nX-Auth: t0ken-0123456789\r\nContent-Length: 100\r\n\r\n{\"app\":",
		"idle keepalive": "",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		io.WriteString(conn, send)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(bufio.NewReader(conn)) // returns when the server closes
		conn.Close()
		if took := time.Since(start); err != nil || took > 3*time.Second {
			t.Errorf("%s: connection held for %s (%v), want it closed after the timeout", name, took, err)
		}
	}
	req, _ := http.NewRequest("GET", c.URL()+"/apps", nil)
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("API after slow clients: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestHugeHeaderRefused sends a header over the limit.
func TestHugeHeaderRefused(t *testing.T) {
	t.Parallel()
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), nil)
	req, _ := http.NewRequest("GET", c.URL()+"/apps", nil)
	req.Header.Set("X-Auth", "t0ken-0123456789")
	req.Header.Set("X-Pad", strings.Repeat("x", 1<<20))
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("1 MiB header answered %d, want 431", resp.StatusCode)
		}
	}
}
