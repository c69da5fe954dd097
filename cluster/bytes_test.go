package cluster

import (
	"encoding/json"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Bytes
		bad  bool
	}{
		{in: "256m", want: 256 << 20}, {in: "1g", want: 1 << 30}, {in: "1.5g", want: 3 << 29},
		{in: "512k", want: 512 << 10}, {in: "100", want: 100}, {in: "100b", want: 100},
		{in: "64MiB", want: 64 << 20}, {in: "2GB", want: 2 << 30}, {in: " 8m ", want: 8 << 20},
		{in: "", bad: true}, {in: "m", bad: true}, {in: "-1m", bad: true}, {in: "ten", bad: true},
		{in: "9999999t", bad: true},
	} {
		got, err := ParseBytes(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestBytesJSON(t *testing.T) {
	var v struct {
		M Bytes `json:"m"`
	}
	for in, want := range map[string]Bytes{`{"m":"256m"}`: 256 << 20, `{"m":1024}`: 1024} {
		if err := json.Unmarshal([]byte(in), &v); err != nil || v.M != want {
			t.Errorf("%s: %d, %v; want %d", in, v.M, err, want)
		}
	}
	for _, in := range []string{`{"m":"lots"}`, `{"m":-5}`, `{"m":true}`} {
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
	if s := Bytes(256 << 20).String(); s != "256m" {
		t.Errorf("String = %s", s)
	}
	if out, _ := json.Marshal(Bytes(5)); string(out) != "5" {
		t.Errorf("Marshal = %s", out)
	}
}
