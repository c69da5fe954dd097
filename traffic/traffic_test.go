package traffic_test

import (
	"math"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/traffic"
)

// clock is a settable clock for a Store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// counts returns ok 2xx and bad 5xx answers, all in latency bucket b.
func counts(ok, bad uint64, b int) cluster.TrafficCounts {
	var c cluster.TrafficCounts
	c.Answers[cluster.Class2xx], c.Answers[cluster.Class5xx] = ok, bad
	c.Latency[b] = ok + bad
	c.Bytes = 100 * (ok + bad)
	return c
}

func sum(router string, seq uint64, at time.Time, app, addr string, c cluster.TrafficCounts) cluster.TrafficSummary {
	return cluster.TrafficSummary{Cluster: "cl", Router: router, Sequence: seq, Time: at,
		Apps: map[string]cluster.AppTraffic{app: {TrafficCounts: c, Instances: map[string]cluster.TrafficCounts{addr: c}}}}
}

// Two routers' summaries add up in the bucket of their arrival; a replay
// (a sequence number not above the router's last) and a summary far from
// the controller's clock are refused.
func TestMergeRouters(t *testing.T) {
	clk := &clock{time.Date(2026, 12, 7, 1, 0, 3, 0, time.UTC)}
	st := traffic.NewAt(clk.now)
	if !st.Add(sum("r1", 1, clk.t, "a.example.com", "10.0.0.1:3000", counts(90, 10, 5))) ||
		!st.Add(sum("r2", 1, clk.t, "a.example.com", "10.0.0.2:3000", counts(45, 5, 6))) {
		t.Fatal("a first summary of a router was refused")
	}
	if st.Add(sum("r1", 1, clk.t, "a.example.com", "10.0.0.1:3000", counts(90, 10, 5))) {
		t.Error("a replayed summary was taken")
	}
	if st.Add(sum("r3", 1, clk.t.Add(-traffic.MaxSkew-time.Second), "a.example.com", "10.0.0.1:3000", counts(1, 0, 0))) {
		t.Error("a summary older than MaxSkew was taken")
	}
	f := st.Figures("a.example.com", time.Hour, true)
	if f.Requests != 150 || f.Errors != 15 || f.Bytes != 15000 || math.Abs(f.ErrorRate-0.1) > 1e-9 {
		t.Errorf("figures %d requests, %d errors, %d bytes, error rate %v; want 150, 15, 15000, 0.1", f.Requests, f.Errors, f.Bytes, f.ErrorRate)
	}
	if f.Answers["2xx"] != 135 || f.Answers["5xx"] != 15 {
		t.Errorf("answers %v", f.Answers)
	}
	if len(f.Points) != 360 {
		t.Fatalf("%d points in an hour, want 360", len(f.Points))
	}
	last := f.Points[len(f.Points)-1]
	if last.Requests != 150 || last.RPS != 15 || !last.Time.Equal(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("the last point: %+v; want 150 requests, 15/s, at 01:00:00", last)
	}
	if f.Points[0].Requests != 0 || !f.Points[0].Time.Equal(last.Time.Add(-359*traffic.Resolution)) {
		t.Errorf("the first point: %+v", f.Points[0])
	}
	// 100 requests in bucket 5 (10-20 ms), 50 in bucket 6 (20-50 ms).
	if f.P50 <= 10 || f.P50 > 20 || f.P99 <= 20 || f.P99 > 50 {
		t.Errorf("p50 %v, p99 %v; want within 10-20 ms and 20-50 ms", f.P50, f.P99)
	}
	if len(f.Instances) != 2 || f.Instances["10.0.0.1:3000"].Requests != 100 || f.Instances["10.0.0.2:3000"].ErrorRate != 0.1 {
		t.Errorf("instances %+v", f.Instances)
	}
	if g := st.Figures("a.example.com", 24*time.Hour, true); time.Duration(g.Instances["10.0.0.1:3000"].Since) != traffic.InstanceSpan || g.Instances["10.0.0.1:3000"].RPS != 100.0/3600 {
		t.Errorf("an instance's figures over 24 h: %+v; want the last hour's", g.Instances["10.0.0.1:3000"])
	}
	if g := st.Figures("a.example.com", time.Hour, false); g.Instances != nil {
		t.Error("instances given unasked")
	}
	if g := st.Figures("other.example.com", time.Hour, false); g.Requests != 0 || len(g.Points) != 360 {
		t.Errorf("an app without traffic: %+v", g)
	}
}

// The ring keeps 24 h at 10 s: 8640 buckets, no more. A bucket 24 h old
// is overwritten, not added to; an app not heard for 24 h is dropped;
// spans are clamped to 10 s .. 24 h.
func TestRingBounded(t *testing.T) {
	if traffic.Points != 8640 || traffic.InstancePoints != 360 {
		t.Fatalf("Points %d, InstancePoints %d", traffic.Points, traffic.InstancePoints)
	}
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clk := &clock{start}
	st := traffic.NewAt(clk.now)
	seq := uint64(0)
	add := func(app string, n uint64) {
		t.Helper()
		seq++
		if !st.Add(sum("r", seq, clk.t, app, "10.0.0.1:3000", counts(n, 0, 0))) {
			t.Fatalf("summary %d refused", seq)
		}
	}
	// One request every 10 s for 25 h.
	for i := 0; i < traffic.Points+360; i++ {
		clk.t = start.Add(time.Duration(i) * traffic.Resolution)
		add("a.example.com", 1)
	}
	f := st.Figures("a.example.com", 48*time.Hour, false)
	if len(f.Points) != traffic.Points || f.Requests != uint64(traffic.Points) || time.Duration(f.Since) != traffic.Span {
		t.Errorf("24 h: %d points, %d requests, since %v; want %d, %d, 24h", len(f.Points), f.Requests, time.Duration(f.Since), traffic.Points, traffic.Points)
	}
	if g := st.Figures("a.example.com", time.Second, false); len(g.Points) != 1 || g.Requests != 1 {
		t.Errorf("a span under 10 s: %d points, %d requests", len(g.Points), g.Requests)
	}
	add("b.example.com", 1)
	clk.t = clk.t.Add(traffic.Span)
	add("b.example.com", 1)
	if n := st.Apps(); n != 1 {
		t.Errorf("%d apps held; want the one heard within 24 h", n)
	}
	if f := st.Figures("a.example.com", traffic.Span, false); f.Requests != 0 {
		t.Errorf("an app gone for 24 h still has %d requests", f.Requests)
	}
}

// Percentile interpolates within the bucket holding the rank.
func TestPercentile(t *testing.T) {
	var h [cluster.LatencyBuckets]uint64
	if p := traffic.Percentile(h, 0.99); p != 0 {
		t.Errorf("empty: %v", p)
	}
	for _, c := range []struct {
		name string
		fill map[int]uint64
		q    float64
		want float64
	}{
		{"all in the first bucket, half", map[int]uint64{0: 100}, 0.5, 0.25},
		{"all in 1-2 ms, the top", map[int]uint64{2: 10}, 1, 2},
		{"a quarter through 10-20 ms", map[int]uint64{5: 100}, 0.25, 12.5},
		{"the median across two buckets", map[int]uint64{1: 50, 7: 50}, 0.5, 1},
		{"p99 in the slow bucket", map[int]uint64{1: 98, 7: 2}, 0.99, 75},
		{"past the last bound", map[int]uint64{cluster.LatencyBuckets - 1: 5}, 0.5, 60000},
		{"p95 of four buckets alike", map[int]uint64{1: 5, 2: 5, 3: 5, 4: 5}, 0.95, 9},
	} {
		h := [cluster.LatencyBuckets]uint64{}
		for i, n := range c.fill {
			h[i] = n
		}
		if got := traffic.Percentile(h, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// LatencyBucket puts a duration in the first bucket whose bound holds it.
func TestLatencyBucket(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, 500 * time.Microsecond: 0, 501 * time.Microsecond: 1,
		15 * time.Millisecond: 5, time.Minute: 15, time.Hour: 16} {
		if got := cluster.LatencyBucket(d); got != want {
			t.Errorf("%v: bucket %d, want %d", d, got, want)
		}
	}
}

// Instances adds the requests and 5xx of the addresses asked for, from
// the bucket of since on, and nothing of other addresses, other apps or
// earlier buckets.
func TestInstancesSince(t *testing.T) {
	clk := &clock{time.Date(2026, 12, 7, 1, 0, 3, 0, time.UTC)}
	st := traffic.NewAt(clk.now)
	st.Add(sum("r1", 1, clk.t, "a.example.com", "10.0.0.1:3000", counts(50, 50, 0))) // before since
	start := clk.t.Add(time.Minute)
	clk.t = start
	st.Add(sum("r1", 2, clk.t, "a.example.com", "10.0.0.1:3000", counts(90, 10, 0)))
	st.Add(sum("r1", 3, clk.t, "a.example.com", "10.0.0.2:3000", counts(40, 0, 0)))
	st.Add(sum("r1", 4, clk.t, "b.example.com", "10.0.0.3:3000", counts(7, 7, 0)))
	clk.t = clk.t.Add(30 * time.Second)
	st.Add(sum("r1", 5, clk.t, "a.example.com", "10.0.0.1:3000", counts(8, 2, 0)))
	for _, tc := range []struct {
		addrs      []string
		reqs, errs uint64
	}{
		{[]string{"10.0.0.1:3000"}, 110, 12},
		{[]string{"10.0.0.1:3000", "10.0.0.2:3000"}, 150, 12},
		{[]string{"10.0.0.3:3000", "10.0.0.9:3000"}, 0, 0},
		{nil, 0, 0},
	} {
		if reqs, errs := st.Instances("a.example.com", tc.addrs, start); reqs != tc.reqs || errs != tc.errs {
			t.Errorf("instances %v since %s: %d requests, %d errors; want %d, %d", tc.addrs, start.Format(time.TimeOnly), reqs, errs, tc.reqs, tc.errs)
		}
	}
	if reqs, _ := st.Instances("a.example.com", []string{"10.0.0.1:3000"}, start.Add(-time.Hour)); reqs != 210 {
		t.Errorf("since an hour earlier: %d requests, want 210", reqs)
	}
	if reqs, _ := st.Instances("none.example.com", []string{"10.0.0.1:3000"}, start); reqs != 0 {
		t.Errorf("an app without traffic: %d requests", reqs)
	}
}
