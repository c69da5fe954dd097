package http_test

import (
	"context"
	"io"
	nethttp "net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/scheduler"
)

// loopbackOnlyEngines passes calls for loopback hosts to the real adapter
// and refuses every other address, so that hosts a fuzzer invents are never
// contacted.
type loopbackOnlyEngines struct{ scheduler.Engines }

func (e loopbackOnlyEngines) guard(host string) error {
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return cluster.Errorf(cluster.EHOST, "Host %s is not contacted under the fuzzer.", host)
	}
	return nil
}

func (e loopbackOnlyEngines) Ping(ctx context.Context, host string) error {
	if err := e.guard(host); err != nil {
		return err
	}
	return e.Engines.Ping(ctx, host)
}

func (e loopbackOnlyEngines) Pull(ctx context.Context, host, image string) (string, error) {
	if err := e.guard(host); err != nil {
		return "", err
	}
	return e.Engines.Pull(ctx, host, image)
}

func (e loopbackOnlyEngines) List(ctx context.Context, host string) ([]cluster.Container, error) {
	if err := e.guard(host); err != nil {
		return nil, err
	}
	return e.Engines.List(ctx, host)
}

func (e loopbackOnlyEngines) FreeMemory(ctx context.Context, host string) (int64, error) {
	if err := e.guard(host); err != nil {
		return 0, err
	}
	return e.Engines.FreeMemory(ctx, host)
}

func (e loopbackOnlyEngines) Images(ctx context.Context, host string) ([]cluster.Image, error) {
	if err := e.guard(host); err != nil {
		return nil, err
	}
	return e.Engines.Images(ctx, host)
}

func (e loopbackOnlyEngines) RemoveImage(ctx context.Context, host, ref string) error {
	if err := e.guard(host); err != nil {
		return err
	}
	return e.Engines.RemoveImage(ctx, host, ref)
}

func (e loopbackOnlyEngines) ImageDiskUse(ctx context.Context, host string) (int64, error) {
	if err := e.guard(host); err != nil {
		return 0, err
	}
	return e.Engines.ImageDiskUse(ctx, host)
}

// FuzzAPI sends arbitrary methods, paths, headers and bodies to the running
// API over a real data file. No request may panic the server or get a 500,
// and the data file must stay intact: every record readable, the seeded app
// still there unless the request deleted something.
func FuzzAPI(f *testing.F) {
	seeds := []struct {
		method      byte
		path, body  string
		contentType string
		auth        byte
	}{
		{0, "/apps", "", "", 1},
		{1, "/apps", `{"app":"new.example.com"}`, "application/json", 1},
		{1, "/keep.example.com/envs", `{"env":"A=b"}`, "application/json", 1},
		{2, "/apps/keep.example.com/envs/A", "", "", 1},
		{1, "/keep.example.com/deploy", `{"image":"app:1","count":"2"}`, "application/json", 1},
		{1, "/hosts", `{"host":"127.0.0.50"}`, "application/json", 2},
		{1, "/keep.example.com/scale", `count=3`, "application/x-www-form-urlencoded", 1},
		{3, "/describe", "", "", 1},
		{0, "/routes", "", "", 0},
		{0, "/../../etc/passwd", "", "", 1},
		{0, "/%2e%2e/apps", "", "", 1},
		{1, "/keep.example.com/rollback", `{"revision":"x"}`, "", 1},
		{1, "/keep.example.com/https", `{"enabled":true,"redirect":"x"}`, "application/json", 1},
		{1, "/certs", `{"domain":"*.example.com","cert":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","key":"x"}`, "application/json", 2},
		{2, "/certs/*.example.com", "", "", 1},
		{0, "/router/certs", "", "", 1},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body), s.contentType, s.auth)
	}
	engines := docker.New(docker.Config{Port: 1, DialTimeout: 200 * time.Millisecond})
	f.Cleanup(func() { engines.Close() })
	srv := openServer(f, serverSetup{engines: loopbackOnlyEngines{engines}, scheduler: scheduler.Config{PingTimeout: 200 * time.Millisecond}})
	d := srv.DB
	d.CreateApp("keep.example.com")
	methods := []string{"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"}
	client := &nethttp.Client{Timeout: 10 * time.Second}

	f.Fuzz(func(t *testing.T, method byte, path string, body []byte, contentType string, auth byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := nethttp.NewRequest(methods[int(method)%len(methods)], srv.URL+path, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client could send
		}
		if validHeaderValue(contentType) {
			req.Header.Set("Content-Type", contentType)
		}
		switch auth % 3 {
		case 1:
			req.Header.Set("X-Auth", testToken)
		case 2:
			req.Header.Set("Authorization", "Bearer "+testToken)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %q: %v", req.Method, path, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// net/http itself refuses what is not HTTP (a space in the target,
		// say) with a plain-text 400 before any handler runs.
		refusedByHTTPStack := resp.StatusCode == 400 && !strings.HasPrefix(string(answer), "{")
		if resp.StatusCode >= 500 && resp.StatusCode != 502 && resp.StatusCode != 503 {
			t.Fatalf("%s %q %q answered %d", req.Method, path, body, resp.StatusCode)
		}
		if auth%3 == 0 && resp.StatusCode != 401 && req.URL.Path != "/healthz" && !refusedByHTTPStack {
			t.Fatalf("%s %q without a token answered %d", req.Method, path, resp.StatusCode)
		}
		if err := d.Check(); err != nil {
			t.Fatalf("data file unusable after %s %q: %v", req.Method, path, err)
		}
		apps, err := d.AllApps()
		if err != nil {
			t.Fatalf("apps unreadable after %s %q: %v", req.Method, path, err)
		}
		for _, a := range apps {
			if _, err := d.Revisions(a.Name); err != nil {
				t.Fatalf("revisions of %s unreadable: %v", a.Name, err)
			}
		}
		if _, err := d.App("keep.example.com"); err != nil {
			if req.Method != "DELETE" {
				t.Fatalf("%s %q lost the seeded app: %v", req.Method, path, err)
			}
			d.CreateApp("keep.example.com")
		}
	})
}

// validHeaderValue reports whether a client could send v as a header value.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
