package http

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

func TestOpCall(t *testing.T) {
	for _, c := range []struct {
		op   string
		args []string
		want string
	}{
		{cluster.OpAddHost, nil, `POST /hosts {"host": "IP"}`},
		{cluster.OpAddHost, []string{cluster.ArgHost, "10.0.0.5"}, `POST /hosts {"host": "10.0.0.5"}`},
		{cluster.OpRemoveHost, []string{cluster.ArgHost, "10.0.0.5", cluster.ArgForce, "true"}, `DELETE /hosts/10.0.0.5?force=true`},
		{cluster.OpAddApp, []string{cluster.ArgApp, "shop.example.com"}, `POST /apps {"app": "shop.example.com"}`},
		{cluster.OpEnvs, []string{cluster.ArgApp, "shop.example.com"}, `GET /shop.example.com/envs`},
		{cluster.OpEnvs, nil, `GET /APP/envs`},
		{cluster.OpHistory, []string{cluster.ArgApp, "a.example.com"}, `GET /a.example.com/history`},
		{cluster.OpRollback, []string{cluster.ArgApp, "a.example.com"}, `POST /a.example.com/rollback {"revision": N}`},
		{cluster.OpRollback, []string{cluster.ArgApp, "a.example.com", cluster.ArgRevision, "3"}, `POST /a.example.com/rollback {"revision": 3}`},
		{cluster.OpScale, []string{cluster.ArgApp, "a.example.com"}, `POST /a.example.com/scale {"count": N}`},
		{cluster.OpDeploy, []string{cluster.ArgApp, "a.example.com"}, `POST /a.example.com/deploy {"image": "IMAGE"}`},
		{cluster.OpUnsetEnv, []string{cluster.ArgApp, "a.example.com", cluster.ArgKey, "A B"}, `DELETE /a.example.com/envs/A%20B`},
		{cluster.OpStatus, nil, `GET /healthz`},
		{cluster.OpAddRegistry, []string{cluster.ArgRegistry, "r.example.com"}, `POST /registries {"registry": "r.example.com", "username": "USERNAME", "password": "PASSWORD"}`},
	} {
		e := cluster.Errorf(cluster.EINVALID, "x").WithFix("t", c.op, c.args...)
		if got := OpCall(e.Fix.Op, e.Fix.Args); got != c.want {
			t.Errorf("OpCall(%s, %v) = %s, want %s", c.op, c.args, got, c.want)
		}
	}
}

// TestEveryOpHasACall: every operation an error may name can be said as a
// call of this API.
func TestEveryOpHasACall(t *testing.T) {
	ops := append([]string(nil), cluster.Ops...)
	sort.Strings(ops)
	var got []string
	for op := range opRoutes {
		got = append(got, op)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, ops) {
		t.Fatalf("operations with a call = %v,\nwant cluster.Ops = %v", got, ops)
	}
}

// TestErrorAnswerRoundTrip sends a request that fails with a Fix to the
// real server and reads the answer back as a client does: the sentence
// says the call, and the typed error comes back with its code and Fix.
func TestErrorAnswerRoundTrip(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := NewServer(&Server{Store: d, Token: "t0ken-0123456789"})
	if _, err := d.CreateApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("DELETE", "/a.example.com/envs/NOPE", nil)
	r.Header.Set("X-Auth", "t0ken-0123456789")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var answer ErrorResponse
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
		t.Fatal(err)
	}
	want := ErrorResponse{
		Error:   "App a.example.com has no env NOPE: list its envs with GET /a.example.com/envs.",
		Code:    cluster.ENOTFOUND,
		Problem: "App a.example.com has no env NOPE",
		Fix:     &cluster.Fix{Text: "list its envs with", Op: cluster.OpEnvs, Args: map[string]string{cluster.ArgApp: "a.example.com"}},
	}
	if w.Code != 404 || !reflect.DeepEqual(answer, want) {
		t.Fatalf("answer = %d %+v,\nwant 404 %+v", w.Code, answer, want)
	}
	err = ParseError(w.Code, w.Body.Bytes())
	var e *cluster.Error
	if !errors.As(err, &e) || e.Code != cluster.ENOTFOUND || e.Message != want.Problem || !reflect.DeepEqual(e.Fix, want.Fix) {
		t.Fatalf("ParseError = %#v, want the typed error with its code and fix", err)
	}
	if got := e.Say(OpCall); got != want.Error {
		t.Errorf("Say(OpCall) = %q, want the API's sentence %q", got, want.Error)
	}
}

func TestParseError(t *testing.T) {
	for _, c := range []struct {
		status      int
		body        string
		code, msg   string
		plainErrors bool
	}{
		{200, `{"error":false,"apps":[]}`, "", "", false},
		// A controller that sends only the sentence: the code of the status.
		{404, `{"error":"App x does not exist."}`, cluster.ENOTFOUND, "App x does not exist.", false},
		{409, `{"error":"busy","code":"conflict","problem":"busy"}`, cluster.ECONFLICT, "busy", false},
		{500, `{"error":false}`, cluster.EINTERNAL, "The controller answered status 500 without saying why.", false},
		{502, `{"error":"Pulling failed.","status":502}`, cluster.EHOST, "Pulling failed.", false},
		{200, `<html>`, "", "", true},
	} {
		err := ParseError(c.status, []byte(c.body))
		if c.plainErrors {
			if err == nil || cluster.ErrorCode(err) != cluster.EINTERNAL {
				t.Errorf("ParseError(%d, %s) = %v, want a plain error", c.status, c.body, err)
			}
			continue
		}
		if cluster.ErrorCode(err) != c.code || (err != nil && !strings.HasPrefix(cluster.ErrorMessage(err), c.msg)) {
			t.Errorf("ParseError(%d, %s) = %v, want code %q message %q", c.status, c.body, err, c.code, c.msg)
		}
	}
}
