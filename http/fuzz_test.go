package http

import (
	"bytes"
	nethttp "net/http"
	"net/http/httptest"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// FuzzDecodeRequest feeds arbitrary bodies and content types through
// decoding and every validation a handler applies. It must never panic,
// and every error must be a *cluster.Error a person can read.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"app":"shop.example.com"}`, "application/json"},
		{`{"image":"app:1","count":"3","port":8080,"healthcheck":{"path":"/up","timeout":"30s"}}`, "application/json"},
		{`{"env":"FOO=bar=baz"}`, "application/json"},
		{`{"host":"10.0.0.5"}`, ""},
		{`{"revision":2}`, "application/json; charset=utf-8"},
		{`app=a.example.com&count=2`, "application/x-www-form-urlencoded"},
		{`healthcheck.timeout=5&healthcheck.path=/x`, "application/x-www-form-urlencoded"},
		{`{"count":1e400}`, "application/json"},
		{`{"count":null,"app":null}`, "application/json"},
		{`[1,2,3]`, "application/json"},
		{"\xff\xfe{", "text/plain"},
	} {
		f.Add([]byte(seed[0]), seed[1])
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		decode := func(req any) error {
			r := httptest.NewRequest("POST", "/apps", bytes.NewReader(body))
			r.Header.Set("Content-Type", contentType)
			r.Body = nethttp.MaxBytesReader(httptest.NewRecorder(), r.Body, MaxBodyBytes)
			return decodeRequest(r, req)
		}
		var (
			app     CreateAppRequest
			env     SetEnvRequest
			host    AddHostRequest
			deploy  DeployRequest
			rb      RollbackRequest
			scale   ScaleRequest
			reg     PutRegistryRequest
			checked []error
		)
		for _, req := range []any{&app, &env, &host, &deploy, &rb, &scale, &reg} {
			if err := decode(req); err != nil {
				mustBeUserError(t, err)
				return
			}
		}
		checked = append(checked,
			cluster.ValidateAppName(app.App),
			func() error { _, _, err := cluster.ParseEnv(env.Env); return err }(),
			func() error { _, err := cluster.ValidateHost(host.Host); return err }(),
			func() error { _, err := deploy.validate(cluster.DefaultMaxCount); return err }(),
			func() error {
				_, err := cluster.ValidateRegistry(cluster.Registry{Address: reg.Registry, Username: reg.Username, Password: reg.Password})
				return err
			}(),
		)
		for _, err := range checked {
			if err != nil {
				mustBeUserError(t, err)
			}
		}
	})
}

func mustBeUserError(t *testing.T, err error) {
	t.Helper()
	code := cluster.ErrorCode(err)
	if code != cluster.EINVALID && code != cluster.ETOOLARGE {
		t.Fatalf("error %v has code %q, want invalid input", err, code)
	}
	if len(cluster.ErrorMessage(err)) < 10 {
		t.Fatalf("error message %q says too little", cluster.ErrorMessage(err))
	}
}
