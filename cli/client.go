package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// Timeouts of the requests the client sends. Reads answer from the data
// file and are quick; changes that touch Docker hosts (deploys, drains,
// kills) last as long as they need and end only with the context.
const (
	ReadTimeout = 30 * time.Second
	DialTimeout = 5 * time.Second
)

// Config is the client's configuration as saved in ~/.longshoreman.json,
// in the 2014 CLI's format.
type Config struct {
	Controller string `json:"controller"`
	Token      string `json:"token"`
}

// configPath returns ~/.longshoreman.json, honouring $HOME.
func configPath(getenv func(string) string) (string, error) {
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("cannot find the home directory for .longshoreman.json: %v", err)
		}
	}
	return filepath.Join(home, ".longshoreman.json"), nil
}

// readConfig reads the config file; a missing file is an empty Config.
func readConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	} else if err != nil {
		return c, fmt.Errorf("cannot read %s: %v", path, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is not valid JSON (%v): fix it or write it again with longshoreman init", path, err)
	}
	return c, nil
}

// Client sends requests to the controller's API.
type Client struct {
	URL   string // base URL, without a trailing slash
	Token string
	// Source says where URL came from, for error messages.
	Source string

	http *http.Client
}

// client resolves the controller's URL and token: flags, then the
// environment, then ~/.longshoreman.json.
func (e *Env) Client() (*Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	c := &Client{URL: e.Controller, Token: e.Token, Source: "--controller"}
	if c.URL == "" {
		c.URL, c.Source = e.Getenv("LONGSHOREMAN_URL"), "LONGSHOREMAN_URL"
	}
	if c.Token == "" {
		c.Token = e.Getenv("LONGSHOREMAN_TOKEN")
	}
	if c.URL == "" || c.Token == "" {
		path, err := configPath(e.Getenv)
		if err != nil {
			return nil, err
		}
		file, err := readConfig(path)
		if err != nil {
			return nil, err
		}
		if c.URL == "" {
			c.URL, c.Source = file.Controller, path
		}
		if c.Token == "" {
			c.Token = file.Token
		}
	}
	if c.URL == "" {
		return nil, errors.New("no controller is configured: run longshoreman init, or set LONGSHOREMAN_URL (and LONGSHOREMAN_TOKEN), or pass --controller URL")
	}
	u, err := normalizeURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("controller URL %q (from %s) is not valid: %v", c.URL, c.Source, err)
	}
	c.URL = u
	caFile, caSource := e.CACert, "--cacert"
	if caFile == "" {
		caFile, caSource = e.Getenv("LONGSHOREMAN_CACERT"), "LONGSHOREMAN_CACERT"
	}
	tlsConfig, err := TLSConfig(caFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", caSource, err)
	}
	c.http = &http.Client{Transport: &http.Transport{
		TLSClientConfig:       tlsConfig,
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   DialTimeout,
		ResponseHeaderTimeout: 0, // a deploy answers when it is done
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
	}}
	e.client = c
	return c, nil
}

// TLSConfig returns the TLS settings for calling a controller's API: the
// certificate is always verified, against the CA in the PEM file caFile
// when it is given (a private CA), else against the system's CAs.
func TLSConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA certificate %s (%v): give the PEM file of the CA that signed the controller's certificate", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate: give the PEM file of the CA that signed the controller's certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// openStream sends r asking for ndjson, for as long as the answer lasts,
// and returns the streaming answer. An answer that is not a stream (the
// request was refused before it began: bad input, an unknown app) is read
// and its error returned; one that is no error either comes back as plain,
// with resp nil.
func (cl *Client) openStream(ctx context.Context, r request) (resp *http.Response, cancel context.CancelFunc, plain []byte, err error) {
	r.accept, r.long = "application/x-ndjson", true
	resp, cancel, err = cl.send(ctx, r)
	if err != nil {
		return nil, nil, nil, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		return resp, cancel, nil, nil
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the answer from %s: %v", cl.URL, err)
	}
	if err := cl.answerError(resp.StatusCode, b); err != nil {
		return nil, nil, nil, err
	}
	return nil, nil, b, nil
}

// eachLine decodes the ndjson lines of a stream's body into values of T,
// blank lines skipped, and passes each to fn (with its bytes) until fn says
// the stream is done: it then returns true and fn's error. When the stream
// ends first it returns false and the read's error (nil at a clean end).
// what names a line in the error for one this client cannot decode.
func eachLine[T any](cl *Client, body io.Reader, what string, fn func(v T, raw []byte) (done bool, err error)) (bool, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return true, fmt.Errorf("the controller at %s sent %s this client does not understand (%v): %s", cl.URL, what, err, clip(b))
		}
		if done, err := fn(v, b); done {
			return true, err
		}
	}
	return false, sc.Err()
}

// NormalizeURL accepts "host:port" as well as a full http or https URL,
// and returns the URL without a trailing slash.
func NormalizeURL(s string) (string, error) { return normalizeURL(s) }

// normalizeURL accepts "host:port" as well as a full URL.
func normalizeURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("the scheme must be http or https, not %s", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("it names no host")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// request is one API call.
type request struct {
	method string
	path   string
	body   any           // one of the api.Request types, marshalled as JSON when not nil
	accept string        // Accept header; default application/json
	long   bool          // no timeout: the call waits on Docker hosts
	limit  time.Duration // overrides ReadTimeout when not zero

	lastEventID string // resumes an event stream after this event
}

// send sends r and returns the response, whatever its status. A
// controller that cannot be reached gives an error that names its URL and
// how to change it.
func (c *Client) send(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	cancel := context.CancelFunc(func() {})
	if !r.long {
		limit := r.limit
		if limit == 0 {
			limit = ReadTimeout
		}
		ctx, cancel = context.WithTimeout(ctx, limit)
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.URL+r.path, body)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("controller URL %s (from %s) is not valid: %v", c.URL, c.Source, err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if c.Token != "" {
		req.Header.Set("X-Auth", c.Token)
	}
	if r.lastEventID != "" {
		req.Header.Set("Last-Event-ID", r.lastEventID)
	}
	req.Header.Set("User-Agent", "longshoreman-cli")
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() == context.DeadlineExceeded {
			return nil, nil, fmt.Errorf("the controller at %s did not answer %s %s within %s", c.URL, r.method, r.path, r.limitOr())
		}
		if errors.Is(err, context.Canceled) {
			return nil, nil, errors.New("interrupted")
		}
		return nil, nil, c.unreachable(err)
	}
	return resp, cancel, nil
}

// sendAfter sends r with Last-Event-ID set to last when it is not empty,
// for an event stream that resumes.
func (c *Client) sendAfter(ctx context.Context, r request, last string) (*http.Response, context.CancelFunc, error) {
	r.lastEventID = last
	return c.send(ctx, r)
}

func (r request) limitOr() time.Duration {
	if r.limit != 0 {
		return r.limit
	}
	return ReadTimeout
}

func (c *Client) unreachable(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return fmt.Errorf("the certificate of the controller at %s (from %s) does not verify: %v; if a private CA signed it, give that CA's PEM certificate with LONGSHOREMAN_CACERT or --cacert", c.URL, c.Source, verr.Err)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("the controller at %s (from %s) answers plain HTTP, not HTTPS: use an http:// URL, or start it with --tls-cert and --tls-key", c.URL, c.Source)
	}
	return fmt.Errorf("cannot reach the controller at %s (from %s): %v; check that it runs, or set its URL with longshoreman init, LONGSHOREMAN_URL or --controller", c.URL, c.Source, err)
}

// do sends r and decodes a JSON answer into out (which may be nil). An
// answer whose "error" is not false becomes an error with the server's
// message.
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, cancel, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer to %s %s from %s: %v", r.method, r.path, c.URL, err)
	}
	if err := c.answerError(resp.StatusCode, b); err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("the controller at %s answered %s %s with JSON this client does not understand: %v", c.URL, r.method, r.path, err)
		}
	}
	return nil
}

// answerError returns the error an answer carries, or nil for a success.
func (c *Client) answerError(status int, b []byte) error {
	var env struct{}
	if err := json.Unmarshal(b, &env); err != nil {
		if status == http.StatusBadRequest && strings.Contains(string(b), "HTTP request to an HTTPS server") {
			return fmt.Errorf("the controller at %s serves HTTPS only: use https:// in its URL (longshoreman init, LONGSHOREMAN_URL or --controller)", c.URL)
		}
		return fmt.Errorf("the controller at %s answered %d with something that is not JSON (is it a Longshoreman controller?): %s", c.URL, status, clip(b))
	}
	return say(api.ParseError(status, b))
}

// say returns the typed error of an answer with what to do said as a
// command line of this client ("longshoreman hosts:add IP") rather than as
// an API call, and a refused token with how to set it.
func say(err error) error {
	var e *cluster.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := e.Say(commandLine)
	if e.Code == cluster.EUNAUTHORIZED {
		msg += ": set the token with longshoreman init, LONGSHOREMAN_TOKEN or --token (on the controller's machine, longshoreman token --db FILE prints it)"
	}
	return &cluster.Error{Code: e.Code, Message: msg}
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// get sends GET path and decodes the answer into out, one of the
// api.Response types.
func (e *Env) get(ctx context.Context, path string, out any) error {
	cl, err := e.Client()
	if err != nil {
		return err
	}
	return cl.do(ctx, request{method: "GET", path: path}, out)
}

// change sends r, a change whose answer carries nothing but success.
func (e *Env) change(ctx context.Context, r request) error {
	cl, err := e.Client()
	if err != nil {
		return err
	}
	return cl.do(ctx, r, nil)
}

// appPath is the canonical path of one of an app's resources.
func appPath(app, rest string) string {
	p := "/apps/" + url.PathEscape(app)
	if rest != "" {
		p += "/" + rest
	}
	return p
}
