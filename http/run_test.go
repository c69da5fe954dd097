package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/http"
)

// Bad input to POST /apps/:app/run and to a deploy's command and release
// is refused with 400 naming the field, before anything runs.
func TestRunBadInput(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	long := `["` + strings.Repeat("x", http.MaxCommandBytes+1) + `"]`
	many := `[` + strings.Repeat(`"x",`, http.MaxCommandArgs) + `"x"]`
	tests := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/a.example.com/run", ``, 400, `Field "command" is required`},
		{"POST", "/a.example.com/run", `{"command":[]}`, 400, `Field "command" is required`},
		{"POST", "/a.example.com/run", `{"command":"migrate --all"}`, 400, `Field "command" must be a list of strings, not a JSON string`},
		{"POST", "/a.example.com/run", `{"command":["", "x"]}`, 400, `starts with an empty argument`},
		{"POST", "/a.example.com/run", `{"command":["a\u0000b"]}`, 400, `NUL byte`},
		{"POST", "/a.example.com/run", `{"command":` + long + `}`, 400, `bytes long`},
		{"POST", "/a.example.com/run", `{"command":` + many + `}`, 400, `arguments: at most`},
		{"POST", "/a.example.com/run", `{"command":["x"],"timeout":"0s"}`, 400, `Field "timeout"`},
		{"POST", "/a.example.com/run", `{"command":["x"],"timeout":"25h"}`, 400, `Field "timeout"`},
		{"POST", "/a.example.com/run", `{"command":["x"],"timeout":"soon"}`, 400, `not a duration`},
		{"POST", "/a.example.com/run", `{"command":["x"]}`, 400, "never been deployed"},
		{"POST", "/nope.example.com/run", `{"command":["x"]}`, 404, "does not exist"},
		{"GET", "/a.example.com/run", ``, 405, "not allowed"},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","release":"migrate"}`, 400, `Field "release" must be a list of strings, not a JSON string`},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","release":[""]}`, 400, `Field "release" starts with an empty argument`},
		{"POST", "/a.example.com/deploy", `{"image":"app:1","command":["a\u0000"]}`, 400, `field "command" holds a NUL byte`},
	}
	for _, tt := range tests {
		s.MustFail(t, tt.method, tt.path, tt.body, tt.status, tt.want)
	}
	if revs, _ := s.DB.Revisions("a.example.com"); len(revs) != 0 {
		t.Fatalf("revisions after bad input: %v", revs)
	}
}

// POST /apps/:app/run streams the task's lines then its exit code to an
// ndjson client, and answers one JSON object with the last lines to any
// other; a task past its timeout is an error answer with timed_out.
func TestRunAnswers(t *testing.T) {
	srv := mustOpenFakeServer(t)
	_, _, last := deployStream(t, srv, "run.example.com", `{"image": "registry.example/app:1", "count": 1}`)
	if last["error"] != false {
		t.Fatalf("deploy: %v", last)
	}
	post := func(body, accept string) (*nethttp.Response, []string) {
		resp := open(t, context.Background(), srv.URL, testToken, "POST", "/apps/run.example.com/run", body, "Accept", accept)
		defer resp.Body.Close()
		var lines []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		return resp, lines
	}
	decode := func(line string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		return m
	}

	resp, lines := post(`{"command":["exit","3"]}`, "application/x-ndjson")
	if resp.Header.Get("Content-Type") != "application/x-ndjson" || len(lines) != 2 {
		t.Fatalf("streamed run: %s, lines %q", resp.Header.Get("Content-Type"), lines)
	}
	if l := decode(lines[0]); l["stream"] != "stdout" || l["line"] != "exiting with status 3" {
		t.Errorf("first line %v; want the task's output", l)
	}
	if l := decode(lines[1]); l["error"] != false || l["exit_code"] != float64(3) {
		t.Errorf("last line %v; want error false and exit_code 3", l)
	}

	resp, lines = post(`{"command":["echo","hello"]}`, "application/json")
	if resp.StatusCode != 200 || len(lines) != 1 {
		t.Fatalf("run as JSON: %d %q", resp.StatusCode, lines)
	}
	if a := decode(lines[0]); a["error"] != false || a["exit_code"] != float64(0) || a["output"].([]any)[0] != "hello" {
		t.Errorf("answer %v; want exit_code 0 and the output", a)
	}

	resp, lines = post(`{"command":["sleep","1m"],"timeout":"50ms"}`, "application/x-ndjson")
	if l := decode(lines[len(lines)-1]); l["timed_out"] != true || !strings.Contains(l["error"].(string), "ran longer than its timeout") || l["status"] != float64(502) {
		t.Errorf("last line of a task past its timeout %v; want an error with timed_out", l)
	}
	resp, lines = post(`{"command":["sleep","1m"],"timeout":"50ms"}`, "")
	if a := decode(strings.Join(lines, "")); resp.StatusCode != 502 || a["timed_out"] != true {
		t.Errorf("JSON answer of a task past its timeout %d %v; want 502 with timed_out", resp.StatusCode, a)
	}
}
