package cluster_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want cluster.Rate
		err  string
	}{
		{"10/s", cluster.Rate{N: 10, Per: time.Second}, ""},
		{" 600/m ", cluster.Rate{N: 600, Per: time.Minute}, ""},
		{"100/h", cluster.Rate{N: 100, Per: time.Hour}, ""},
		{"5/sec", cluster.Rate{N: 5, Per: time.Second}, ""},
		{"5/Min", cluster.Rate{N: 5, Per: time.Minute}, ""},
		{"none", cluster.Rate{}, ""},
		{"NONE", cluster.Rate{}, ""},
		{"10", cluster.Rate{}, `"10/s", "600/m"`},
		{"10/d", cluster.Rate{}, `not "10/d"`},
		{"ten/s", cluster.Rate{}, `"none" for no limit`},
		{"0/s", cluster.Rate{}, "from 1 to 1000000"},
		{"-1/s", cluster.Rate{}, "from 1 to 1000000"},
		{"1000001/s", cluster.Rate{}, "from 1 to 1000000"},
		{"", cluster.Rate{}, "must be"},
		{"1.5/s", cluster.Rate{}, "must be"},
	} {
		got, err := cluster.ParseRate(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRate(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := cluster.ParseRate(got.String()); err != nil || back != got {
			t.Errorf("ParseRate(%q.String() = %q) = %v, %v", tc.in, got.String(), back, err)
		}
	}
	if d := (cluster.Rate{N: 10, Per: time.Second}).Interval(); d != 100*time.Millisecond {
		t.Errorf("10/s costs %v a request, want 100ms", d)
	}
}

func TestRateJSON(t *testing.T) {
	var v struct {
		R cluster.Rate `json:"r"`
	}
	if err := json.Unmarshal([]byte(`{"r":"600/m"}`), &v); err != nil || v.R != (cluster.Rate{N: 600, Per: time.Minute}) {
		t.Fatalf("600/m = %v, %v", v.R, err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"r":"600/m"}` {
		t.Fatalf("written as %s", b)
	}
	if err := json.Unmarshal([]byte(`{"r":10}`), &v); err == nil || !strings.Contains(err.Error(), `"10/s"`) {
		t.Fatalf("a number: %v, want an error naming the forms", err)
	}
	var app cluster.App
	if b, _ := json.Marshal(app); strings.Contains(string(b), "rate_limit") || strings.Contains(string(b), "max_body") {
		t.Fatalf("an app without limits writes them: %s", b)
	}
}

func TestParseMaxBody(t *testing.T) {
	for in, want := range map[string]cluster.Bytes{"10m": 10 << 20, "512k": 512 << 10, "1g": 1 << 30, "4096": 4096, "none": 0, "0": 0} {
		if got, err := cluster.ParseMaxBody(in); err != nil || got != want {
			t.Errorf("ParseMaxBody(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"ten", "-1", "10x", ""} {
		if _, err := cluster.ParseMaxBody(in); err == nil || !strings.Contains(err.Error(), `"10m" or "512k"`) {
			t.Errorf("ParseMaxBody(%q): %v, want an error naming the forms", in, err)
		}
	}
	for in, want := range map[string]cluster.Bytes{`1024`: 1024, `"10m"`: 10 << 20, `"none"`: 0, `0`: 0} {
		if got, err := cluster.UnmarshalMaxBody([]byte(in)); err != nil || got != want {
			t.Errorf("UnmarshalMaxBody(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{`-5`, `1.5`, `true`, `[]`} {
		if _, err := cluster.UnmarshalMaxBody([]byte(in)); err == nil {
			t.Errorf("UnmarshalMaxBody(%s) took it", in)
		}
	}
}

// The table carries an app's limits with the burst that applies; apps
// without limits, or being deleted, are left out, and a table without
// limits hashes as before.
func TestAddLimits(t *testing.T) {
	rate := cluster.Rate{N: 10, Per: time.Second}
	var tb cluster.RoutingTable
	cluster.AddLimits(&tb, &cluster.App{Name: "none.example.com"})
	if tb.Limits != nil {
		t.Fatalf("an app without limits: %v", tb.Limits)
	}
	sum := cluster.TableSum(tb)
	cluster.AddLimits(&tb, &cluster.App{Name: "gone.example.com", RateLimit: rate, Deleting: true})
	cluster.AddLimits(&tb, &cluster.App{Name: "rate.example.com", RateLimit: rate})
	cluster.AddLimits(&tb, &cluster.App{Name: "burst.example.com", RateLimit: rate, Burst: 25})
	cluster.AddLimits(&tb, &cluster.App{Name: "body.example.com", MaxBody: 1 << 20, Burst: 7})
	want := map[string]cluster.LimitRoute{
		"rate.example.com":  {Rate: rate, Burst: 10},
		"burst.example.com": {Rate: rate, Burst: 25},
		"body.example.com":  {MaxBody: 1 << 20},
	}
	if len(tb.Limits) != len(want) {
		t.Fatalf("limits = %v, want %v", tb.Limits, want)
	}
	for k, v := range want {
		if tb.Limits[k] != v {
			t.Errorf("limits[%s] = %+v, want %+v", k, tb.Limits[k], v)
		}
	}
	if string(cluster.TableSum(tb)) == string(sum) {
		t.Fatal("limits do not change the table's sum: a change would not be published")
	}
	if err := cluster.ValidateBurst(0); err == nil || !strings.Contains(err.Error(), `"burst" must be from 1`) {
		t.Fatalf("burst 0: %v", err)
	}
}
