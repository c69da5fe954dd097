package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// decodeRequest reads a JSON or form-encoded body into req, a pointer to
// one of the Request types. An empty body is an empty request; fields req
// does not have are ignored. Errors are EINVALID or ETOOLARGE with a
// sentence saying what was wrong.
func decodeRequest(r *http.Request, req any) error {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return cluster.Errorf(cluster.ETOOLARGE, "Request body is larger than %d bytes: send a smaller body.", tooLarge.Limit)
	} else if err != nil {
		return cluster.Errorf(cluster.EINVALID, "Request body could not be read: %v.", err)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		// curl -d '{...}' sends JSON with this type: say so rather than
		// report the fields as missing.
		if t := strings.TrimSpace(string(body)); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			return cluster.Errorf(cluster.EINVALID, "The body looks like JSON but was sent as %s: send it with the header Content-Type: application/json (curl -H 'Content-Type: application/json' -d '{...}').", ct)
		}
		return decodeForm(body, fields(req))
	}
	return decodeJSON(body, fields(req))
}

// fields maps the JSON names of the fields of *req to their addresses.
func fields(req any) map[string]any {
	v := reflect.ValueOf(req).Elem()
	out := make(map[string]any, v.NumField())
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		out[name] = v.Field(i).Addr().Interface()
	}
	return out
}

func decodeJSON(body []byte, targets map[string]any) error {
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
	case strings.HasPrefix(goType, "[]"):
		return "list of " + jsonKind(goType[2:]) + "s"
	case strings.Contains(goType, "string"):
		return "string"
	case strings.Contains(goType, "int"), strings.Contains(goType, "Duration"):
		return "number"
	default:
		return "JSON object"
	}
}

// decodeForm fills targets from key=value pairs; a health check's fields
// are healthcheck.path and healthcheck.timeout.
func decodeForm(body []byte, targets map[string]any) error {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return cluster.Errorf(cluster.EINVALID, "Form body could not be parsed (%v): send key=value pairs joined with &.", err)
	}
	for name, dst := range targets {
		switch dst := dst.(type) {
		case *string:
			*dst = vals.Get(name)
		case **Int:
			if v := vals.Get(name); v != "" {
				n := new(Int)
				if err := n.UnmarshalJSON([]byte(v)); err != nil {
					return cluster.Errorf(cluster.EINVALID, "Field %q %v.", name, err)
				}
				*dst = n
			}
		case **bool:
			if v := vals.Get(name); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return cluster.Errorf(cluster.EINVALID, "Field %q must be true or false, not %q.", name, v)
				}
				*dst = &b
			}
		case **cluster.HealthCheck:
			path, timeout := vals.Get(name+".path"), vals.Get(name+".timeout")
			if path == "" && timeout == "" {
				continue
			}
			h := &cluster.HealthCheck{Path: path}
			if timeout != "" {
				b, _ := json.Marshal(timeout)
				if err := h.Timeout.UnmarshalJSON(b); err != nil {
					return cluster.Errorf(cluster.EINVALID, "Field \"%s.timeout\": %v.", name, err)
				}
			}
			*dst = h
		case **MemoryLimit:
			if v := vals.Get(name); v != "" {
				m := new(MemoryLimit)
				if err := m.parse(v); err != nil {
					return cluster.Errorf(cluster.EINVALID, "Field %q %v.", name, err)
				}
				*dst = m
			}
		case **CPULimit:
			if v := vals.Get(name); v != "" {
				c := new(CPULimit)
				if err := c.parse(v); err != nil {
					return cluster.Errorf(cluster.EINVALID, "Field %q %v.", name, err)
				}
				*dst = c
			}
		case **DurationSetting:
			if v := vals.Get(name); v != "" {
				d := new(DurationSetting)
				b, _ := json.Marshal(v)
				if err := d.UnmarshalJSON(b); err != nil {
					return cluster.Errorf(cluster.EINVALID, "Field %q: %v.", name, err)
				}
				*dst = d
			}
		default:
			if err := decodeFormMore(vals, name, dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeFormMore sets the form fields decodeForm leaves: lists (a
// repeated key: volumes=a:/a&volumes=b:/b) and durations.
func decodeFormMore(vals url.Values, name string, dst any) error {
	switch dst := dst.(type) {
	case **cluster.Rate:
		return decodeFormString(vals, name, dst)
	case **BodyLimit:
		return decodeFormString(vals, name, dst)
	case *[]string:
		if v, ok := vals[name]; ok {
			*dst = v
		}
	case **cluster.Duration:
		if v := vals.Get(name); v != "" {
			d := new(cluster.Duration)
			b, _ := json.Marshal(v)
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				b = []byte(v) // a number of seconds
			}
			if err := d.UnmarshalJSON(b); err != nil {
				return cluster.Errorf(cluster.EINVALID, "Field %q: %v.", name, err)
			}
			*dst = d
		}
	}
	return nil
}

// decodeFormString sets *dst to the field name read as a JSON string by
// T's UnmarshalJSON, when the form has it.
func decodeFormString[T any, P interface {
	*T
	json.Unmarshaler
}](vals url.Values, name string, dst **T) error {
	v := vals.Get(name)
	if v == "" {
		return nil
	}
	x := new(T)
	b, _ := json.Marshal(v)
	if err := P(x).UnmarshalJSON(b); err != nil {
		return cluster.Errorf(cluster.EINVALID, "Field %q %v.", name, err)
	}
	*dst = x
	return nil
}

// validate checks the fields of a deploy.
func (req *DeployRequest) validate(maxCount int) (cluster.DeployRequest, error) {
	d := cluster.DeployRequest{Image: req.Image, Count: req.Count.intOr(0), Port: req.Port.intOr(0), Command: req.Command, Release: req.Release, Batch: req.Batch.intOr(0)}
	if err := validateCommand("command", d.Command); err != nil {
		return d, err
	}
	if err := validateCommand("release", d.Release); err != nil {
		return d, err
	}
	if req.HealthCheck != nil {
		d.HealthCheck = *req.HealthCheck
	}
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
	var err error
	if d.Memory, d.CPUs, err = req.limits(); err != nil {
		return d, err
	}
	if req.Batch != nil {
		if err := cluster.ValidateBatch(d.Batch, maxCount); err != nil {
			return d, err
		}
	}
	if err := req.placement(&d); err != nil {
		return d, err
	}
	if err := req.canary(&d, maxCount); err != nil {
		return d, err
	}
	return d, cluster.ValidateHealthCheck(d.HealthCheck)
}

// canary checks the deploy's canary settings into d.
func (req *DeployRequest) canary(d *cluster.DeployRequest, maxCount int) error {
	if req.Canary == nil {
		if req.CanaryCount != nil || req.CanaryAuto != nil || req.CanaryMaxErrors != nil {
			return cluster.Errorf(cluster.EINVALID, "The canary's count, auto-promote delay and error margin need a canary: give \"canary\" (the percent of the requests, 1 to 99) too").WithFix("deploy with --canary 10, for example:", cluster.OpDeploy)
		}
		return nil
	}
	d.Canary, d.CanaryCount = req.Canary.intOr(0), req.CanaryCount.intOr(cluster.DefaultCanaryCount)
	if req.CanaryAuto != nil {
		d.CanaryAuto = *req.CanaryAuto
	}
	d.CanaryMaxErrors = cluster.DefaultCanaryMaxErrors
	if req.CanaryMaxErrors != nil {
		d.CanaryMaxErrors = *req.CanaryMaxErrors
	}
	return cluster.ValidateCanary(d.Canary, d.CanaryCount, maxCount, d.CanaryAuto.D(), d.CanaryMaxErrors)
}

func clipBytes(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// placement checks the deploy's volumes, pinned hosts and hold into d;
// the scheduler checks them again with what the request leaves out (the
// app's).
func (req *DeployRequest) placement(d *cluster.DeployRequest) error {
	if err := cluster.ValidateVolumes(req.Volumes); err != nil {
		return err
	}
	d.Volumes = req.Volumes
	if req.Hosts != nil {
		hosts, err := cluster.ValidatePinned(req.Hosts)
		if err != nil {
			return err
		}
		d.Hosts = hosts
	}
	if req.Hold != nil {
		if err := cluster.ValidateHold(req.Hold.D()); err != nil {
			return err
		}
		d.Hold = *req.Hold
	}
	return nil
}
