package cluster_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestValidateAppName(t *testing.T) {
	good := []string{"shop.example.com", "a.b", "x-1.example.io", "123.example.com", strings.Repeat("a", 63) + ".com"}
	bad := []string{"", "shop", "Shop.example.com", "shop..example.com", ".example.com", "example.com.", "-a.example.com", "a-.example.com",
		"sh op.example.com", "../etc/passwd", "café.example.com", "a_b.example.com", strings.Repeat("a", 64) + ".com",
		strings.Repeat("abcdefghi.", 26) + "com", "a.example.com/deploy", "a.example.com\n"}
	for _, name := range good {
		if err := cluster.ValidateAppName(name); err != nil {
			t.Errorf("ValidateAppName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range bad {
		err := cluster.ValidateAppName(name)
		if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), "domain name") && !strings.Contains(cluster.ErrorMessage(err), "app name") {
			t.Errorf("ValidateAppName(%q) = %v, want an EINVALID error about the domain name", name, err)
		}
	}
}

func TestValidateHost(t *testing.T) {
	cases := map[string]string{"10.0.0.5": "10.0.0.5", "127.0.0.2": "127.0.0.2", "::1": "::1", "2001:db8:0:0::1": "2001:db8::1", "::ffff:10.0.0.1": "10.0.0.1", "127.0.0.1": "127.0.0.1", "192.168.1.255": "192.168.1.255", "172.16.0.1": "172.16.0.1"}
	for in, want := range cases {
		if got, err := cluster.ValidateHost(in); err != nil || got != want {
			t.Errorf("ValidateHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "host.example.com", "10.0.0", "10.0.0.256", "0.0.0.0", "224.0.0.1", "fe80::1%eth0", " 10.0.0.1", "169.254.0.1", "169.254.169.254", "fe80::1", "255.255.255.255", "::ffff:255.255.255.255", "::", "::ffff:0.0.0.0", "ff02::1", "239.255.255.250", "::ffff:169.254.1.1", "10.0.0.1:2375", "../10.0.0.1"} {
		if _, err := cluster.ValidateHost(in); cluster.ErrorCode(err) != cluster.EINVALID {
			t.Errorf("ValidateHost(%q) = %v, want EINVALID", in, err)
		}
	}
}

func TestParseEnv(t *testing.T) {
	good := map[string][2]string{"FOO=bar": {"FOO", "bar"}, "A=": {"A", ""}, "_X1=a=b=c": {"_X1", "a=b=c"}, "K=héllo wörld": {"K", "héllo wörld"}, "K= spaced ": {"K", " spaced "}, "K=a\tb": {"K", "a\tb"}}
	for in, want := range good {
		k, v, err := cluster.ParseEnv(in)
		if err != nil || k != want[0] || v != want[1] {
			t.Errorf("ParseEnv(%q) = %q, %q, %v; want %q, %q", in, k, v, err, want[0], want[1])
		}
	}
	bad := []string{"", "FOO", "=bar", "1FOO=x", "FO O=x", "FÖÖ=x", "../X=y", "A-B=1", "K=a\x00b", "K=\xff", "K=a\nb", "K=a\rb", "K=\x1b[31m", "K=a\x7fb", "K=a\u0085b", "K=" + strings.Repeat("x", cluster.MaxEnvValueLength+1), strings.Repeat("K", 256) + "=v"}
	for _, in := range bad {
		if _, _, err := cluster.ParseEnv(in); cluster.ErrorCode(err) != cluster.EINVALID {
			t.Errorf("ParseEnv(%q) = %v, want EINVALID", in, err)
		}
	}
}

func TestValidateImage(t *testing.T) {
	for _, in := range []string{"nginx", "nginx:1.25", "127.0.0.1:5000/app:1", "registry.example.com/team/app@sha256:" + strings.Repeat("a", 64)} {
		if err := cluster.ValidateImage(in); err != nil {
			t.Errorf("ValidateImage(%q) = %v", in, err)
		}
	}
	for _, in := range []string{"", "Nginx", "nginx:", "a b", "app:" + strings.Repeat("x", 200), "-app", strings.Repeat("a", 600)} {
		if err := cluster.ValidateImage(in); cluster.ErrorCode(err) != cluster.EINVALID {
			t.Errorf("ValidateImage(%q) = %v, want EINVALID", in, err)
		}
	}
}

func TestValidateCountPortHealthCheck(t *testing.T) {
	if cluster.ValidateCount(0, 10, false) == nil || cluster.ValidateCount(0, 10, true) != nil || cluster.ValidateCount(11, 10, true) == nil || cluster.ValidateCount(-1, 10, true) == nil {
		t.Error("ValidateCount bounds wrong")
	}
	if cluster.ValidatePort(0) == nil || cluster.ValidatePort(65536) == nil || cluster.ValidatePort(3000) != nil {
		t.Error("ValidatePort bounds wrong")
	}
	for _, h := range []cluster.HealthCheck{{Path: "ping"}, {Path: "/a b"}, {Timeout: cluster.Duration(time.Millisecond)}, {Timeout: cluster.Duration(time.Hour)}} {
		if cluster.ValidateHealthCheck(h) == nil {
			t.Errorf("ValidateHealthCheck(%+v) = nil", h)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var h cluster.HealthCheck
	if err := json.Unmarshal([]byte(`{"path":"/up","timeout":"90s"}`), &h); err != nil || h.Timeout.D() != 90*time.Second {
		t.Fatalf("string duration: %+v, %v", h, err)
	}
	if err := json.Unmarshal([]byte(`{"timeout":5}`), &h); err != nil || h.Timeout.D() != 5*time.Second {
		t.Fatalf("number duration: %+v, %v", h, err)
	}
	if err := json.Unmarshal([]byte(`{"timeout":"soon"}`), &h); err == nil {
		t.Fatal("bad duration accepted")
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	if cluster.ErrorCode(nil) != "" || cluster.ErrorMessage(nil) != "" {
		t.Error("nil error has a code")
	}
	if cluster.ErrorCode(json.Unmarshal([]byte("x"), new(int))) != cluster.EINTERNAL {
		t.Error("plain error is not internal")
	}
	if cluster.ErrorMessage(json.Unmarshal([]byte("x"), new(int))) != "Internal error." {
		t.Error("plain error detail leaks")
	}
}

func TestValidateEnvs(t *testing.T) {
	many := map[string]string{}
	for i := range cluster.MaxEnvs {
		many[fmt.Sprintf("K%d", i)] = "v"
	}
	big := map[string]string{"A": strings.Repeat("x", cluster.MaxEnvValueLength)}
	for i := 0; len(big)*cluster.MaxEnvValueLength <= cluster.MaxEnvBytes; i++ {
		big[fmt.Sprintf("B%d", i)] = strings.Repeat("x", cluster.MaxEnvValueLength)
	}
	tooMany := map[string]string{"EXTRA": "v"}
	for k, v := range many {
		tooMany[k] = v
	}
	for _, c := range []struct {
		name  string
		envs  map[string]string
		limit string
	}{
		{"none", map[string]string{}, ""},
		{"at the count limit", many, ""},
		{"one over the count limit", tooMany, "MaxEnvs"},
		{"over the byte limit", big, "MaxEnvBytes"},
	} {
		err := cluster.ValidateEnvs("a.example.com", c.envs)
		if c.limit == "" && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.limit != "" && (cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), c.limit)) {
			t.Errorf("%s: %v, want EINVALID naming %s", c.name, err, c.limit)
		}
	}
}
