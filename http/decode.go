package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// request is the union of every field a request body may carry.
type request struct {
	App         string              `json:"app"`
	Host        string              `json:"host"`
	Env         string              `json:"env"`
	Image       string              `json:"image"`
	Count       *flexInt            `json:"count"`
	Port        *flexInt            `json:"port"`
	Revision    *flexInt            `json:"revision"`
	HealthCheck cluster.HealthCheck `json:"healthcheck"`
	Registry    string              `json:"registry"`
	Username    string              `json:"username"`
	Password    string              `json:"password"`
}

// flexInt is an integer that may arrive as a JSON number or a numeric
// string, as the original CLI sends count.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("must be a whole number, got %s", clipBytes(b))
	}
	*n = flexInt(v)
	return nil
}

// intOr returns *n, or def when n is nil.
func (n *flexInt) intOr(def int) int {
	if n == nil {
		return def
	}
	return int(*n)
}

// decodeRequest reads a JSON or form-encoded body into a request. An empty
// body is an empty request. Errors are EINVALID or ETOOLARGE with a sentence
// saying what was wrong.
func decodeRequest(r *http.Request) (*request, error) {
	req := &request{}
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, cluster.Errorf(cluster.ETOOLARGE, "Request body is larger than %d bytes: send a smaller body.", tooLarge.Limit)
	} else if err != nil {
		return nil, cluster.Errorf(cluster.EINVALID, "Request body could not be read: %v.", err)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		// curl -d '{...}' sends JSON with this type: say so rather than
		// report the fields as missing.
		if t := strings.TrimSpace(string(body)); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			return nil, cluster.Errorf(cluster.EINVALID, "The body looks like JSON but was sent as %s: send it with the header Content-Type: application/json (curl -H 'Content-Type: application/json' -d '{...}').", ct)
		}
		return req, decodeForm(body, req)
	}
	return req, decodeJSON(body, req)
}

func decodeJSON(body []byte, req *request) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	var fields map[string]json.RawMessage
	err := json.Unmarshal(body, &fields)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return cluster.Errorf(cluster.EINVALID, "Request body is not valid JSON (%v at byte %d): send a JSON object such as {\"app\": \"shop.example.com\"}.", syntax, syntax.Offset)
	case errors.As(err, &typ):
		return cluster.Errorf(cluster.EINVALID, "Request body must be a JSON object, not a JSON %s.", typ.Value)
	case err != nil:
		return cluster.Errorf(cluster.EINVALID, "Request body could not be decoded (%v): send a JSON object.", err)
	}
	targets := map[string]any{
		"app": &req.App, "host": &req.Host, "env": &req.Env, "image": &req.Image,
		"count": &req.Count, "port": &req.Port, "revision": &req.Revision, "healthcheck": &req.HealthCheck,
		"registry": &req.Registry, "username": &req.Username, "password": &req.Password,
	}
	for name, raw := range fields {
		dst, known := targets[name]
		if !known {
			continue // unknown fields are ignored, as most JSON APIs do
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			if errors.As(err, &typ) {
				err = fmt.Errorf("must be a %s, not a JSON %s", jsonKind(typ.Type.String()), typ.Value)
			}
			return cluster.Errorf(cluster.EINVALID, "Field %q %v.", name, strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	return nil
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "string"):
		return "string"
	case strings.Contains(goType, "int"), strings.Contains(goType, "Duration"):
		return "number"
	default:
		return "JSON object"
	}
}

func decodeForm(body []byte, req *request) error {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return cluster.Errorf(cluster.EINVALID, "Form body could not be parsed (%v): send key=value pairs joined with &.", err)
	}
	req.App, req.Host, req.Env, req.Image = vals.Get("app"), vals.Get("host"), vals.Get("env"), vals.Get("image")
	req.Registry, req.Username, req.Password = vals.Get("registry"), vals.Get("username"), vals.Get("password")
	req.HealthCheck.Path = vals.Get("healthcheck.path")
	for name, dst := range map[string]**flexInt{"count": &req.Count, "port": &req.Port, "revision": &req.Revision} {
		if v := vals.Get(name); v != "" {
			n := new(flexInt)
			if err := n.UnmarshalJSON([]byte(v)); err != nil {
				return cluster.Errorf(cluster.EINVALID, "Field %q %v.", name, err)
			}
			*dst = n
		}
	}
	if v := vals.Get("healthcheck.timeout"); v != "" {
		b, _ := json.Marshal(v)
		if err := req.HealthCheck.Timeout.UnmarshalJSON(b); err != nil {
			return cluster.Errorf(cluster.EINVALID, "Field \"healthcheck.timeout\": %v.", err)
		}
	}
	return nil
}

// deployRequest validates the fields of a deploy.
func (req *request) deployRequest(maxCount int) (cluster.DeployRequest, error) {
	d := cluster.DeployRequest{Image: req.Image, Count: req.Count.intOr(0), Port: req.Port.intOr(0), HealthCheck: req.HealthCheck}
	if err := cluster.ValidateImage(d.Image); err != nil {
		return d, err
	}
	if req.Count != nil {
		if err := cluster.ValidateCount(d.Count, maxCount, false); err != nil {
			return d, err
		}
	}
	if req.Port != nil {
		if err := cluster.ValidatePort(d.Port); err != nil {
			return d, err
		}
	}
	return d, cluster.ValidateHealthCheck(d.HealthCheck)
}

func clipBytes(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
