package main

import (
	"io"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/router"
)

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
		{name: "port, controller and token", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:8080", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, addr: ":443"},
		{name: "flags", env: map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "t"}, args: []string{"--https-port", "8443", "--controller", "10.0.0.1:8080", "--listen", "127.0.0.1:8080"}, addr: "127.0.0.1:8443"},
		{name: "controller without token", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:8080"}, wantErr: "LONGSHOREMAN_ROUTER_TOKEN is not set"},
		{name: "https without controller", env: map[string]string{"HTTPS_PORT": "443"}, wantErr: "--controller (LONGSHOREMAN_URL) is not set"},
		{name: "bad port", env: map[string]string{"HTTPS_PORT": "70000", "LONGSHOREMAN_URL": "http://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "--https-port (HTTPS_PORT) is 70000"},
		{name: "same port as HTTP", env: map[string]string{"PORT": "8080", "HTTPS_PORT": "8080", "LONGSHOREMAN_URL": "http://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "the HTTP port too"},
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
