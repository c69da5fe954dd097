package docker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/longshoreman/longshoreman/cluster"
)

// Run creates and starts a container for spec on spec.Host and returns it as
// inspected after start. When the start fails the created container is
// removed, so a failed Run leaves nothing behind.
func (e *Engines) Run(ctx context.Context, spec cluster.ContainerSpec) (cluster.Container, error) {
	host := spec.Host
	c, err := e.client(host)
	if err != nil {
		return cluster.Container{}, err
	}
	if spec.Port <= 0 || spec.Port > 65535 {
		return cluster.Container{}, cluster.Errorf(cluster.EINVALID, "Container port %d of %s is not a TCP port.", spec.Port, spec.App)
	}
	controller := spec.Controller
	if controller == "" {
		controller = e.cfg.Controller
	}
	port, err := nat.NewPort("tcp", strconv.Itoa(spec.Port))
	if err != nil {
		return cluster.Container{}, cluster.Errorf(cluster.EINVALID, "Container port %d: %v.", spec.Port, err)
	}
	config := &container.Config{
		Image:        spec.Image,
		Env:          spec.Env,
		Cmd:          spec.Command, // empty keeps the image's CMD; its ENTRYPOINT stays
		ExposedPorts: nat.PortSet{port: struct{}{}},
		Labels: map[string]string{
			cluster.LabelApp:        spec.App,
			cluster.LabelRevision:   strconv.Itoa(spec.Revision),
			cluster.LabelHost:       host,
			cluster.LabelController: controller,
		},
	}
	hostConfig := &container.HostConfig{
		PortBindings:  nat.PortMap{port: []nat.PortBinding{{HostIP: host, HostPort: ""}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		Resources:     resources(spec),
		Mounts:        mounts(spec),
	}

	ctx, cancel := e.bounded(ctx)
	defer cancel()
	created, err := c.ContainerCreate(ctx, config, hostConfig, nil, nil, containerName(spec))
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return cluster.Container{}, cluster.Errorf(cluster.EHOST, "Image %s is not on %s: pull it first (%v).", spec.Image, host, err)
		}
		return cluster.Container{}, e.hostError(host, "create a container of "+spec.Image, err)
	}
	if err := c.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		e.discard(host, created.ID)
		return cluster.Container{}, e.hostError(host, "start a container of "+spec.Image, err)
	}
	got, err := e.inspect(ctx, host, created.ID)
	if err != nil {
		e.discard(host, created.ID)
		return cluster.Container{}, err
	}
	return got, nil
}

// resources returns the limits Docker enforces for spec. Swap is limited
// to the memory limit itself (MemorySwap = Memory): an instance gets no
// swap beyond its limit, so it is killed for memory (and reported) rather
// than slowed down by swapping, and the memory placement reserves is all
// it can use.
func resources(spec cluster.ContainerSpec) container.Resources {
	var r container.Resources
	if spec.Memory > 0 {
		r.Memory, r.MemorySwap = int64(spec.Memory), int64(spec.Memory)
	}
	if spec.CPUs > 0 {
		r.NanoCPUs = int64(spec.CPUs * 1e9)
	}
	return r
}

// mounts returns spec's volumes as Docker mounts of named local volumes,
// labelled with the app and the controller: Docker creates a volume
// missing on the host when the container is created, and never removes
// it with the container.
func mounts(spec cluster.ContainerSpec) []mount.Mount {
	var out []mount.Mount
	for _, m := range spec.Mounts {
		out = append(out, mount.Mount{
			Type: mount.TypeVolume, Source: m.Source, Target: m.Target,
			VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{cluster.LabelApp: spec.App}},
		})
	}
	return out
}

// discard removes a container that Run could not bring up, with a context
// of its own: the caller's may be what failed.
func (e *Engines) discard(host, id string) {
	c, err := e.client(host)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	_ = c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
}

// containerName returns ls-<app with dots as dashes>-r<rev>-<random>, which
// says at a glance in `docker ps` what a container is.
func containerName(spec cluster.ContainerSpec) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	app := strings.ReplaceAll(spec.App, ".", "-")
	return "ls-" + app + "-r" + strconv.Itoa(spec.Revision) + "-" + hex.EncodeToString(b[:])
}

// Inspect returns one container; an unknown id is ENOTFOUND.
func (e *Engines) Inspect(ctx context.Context, host, id string) (cluster.Container, error) {
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	return e.inspect(ctx, host, id)
}

func (e *Engines) inspect(ctx context.Context, host, id string) (cluster.Container, error) {
	c, err := e.client(host)
	if err != nil {
		return cluster.Container{}, err
	}
	info, err := c.ContainerInspect(ctx, id)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return cluster.Container{}, cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on %s.", id, host)
		}
		return cluster.Container{}, e.hostError(host, "inspect container "+id, err)
	}
	ct := cluster.Container{ID: info.ID}
	if info.ContainerJSONBase != nil {
		ct.Restarts = info.RestartCount
		if t, err := time.Parse(time.RFC3339Nano, info.Created); err == nil {
			ct.Created = t.Truncate(time.Second).UTC() // as List has it
		}
	}
	if info.Config != nil {
		ct.Image = info.Config.Image
		fromLabels(&ct, info.Config.Labels)
	}
	if info.State != nil {
		ct.Running = info.State.Running && !info.State.Restarting
		ct.State = info.State.Status
		ct.ExitCode = info.State.ExitCode
		// Docker (20.10, checked) keeps OOMKilled set after the restart
		// policy restarted the container: a running container may have
		// been killed for memory.
		ct.OOMKilled = info.State.OOMKilled
	}
	if ct.Running && info.NetworkSettings != nil {
		ct.Port = publishedPort(info.NetworkSettings.Ports, ct.Host)
	}
	return ct, nil
}

// publishedPort returns the host port bound on host (or on any address when
// none is bound on host), 0 when none is.
func publishedPort(ports nat.PortMap, host string) int {
	fallback := 0
	for p, bindings := range ports {
		if p.Proto() != "tcp" {
			continue
		}
		for _, b := range bindings {
			n, err := strconv.Atoi(b.HostPort)
			if err != nil || n == 0 {
				continue
			}
			if b.HostIP == host {
				return n
			}
			if fallback == 0 {
				fallback = n
			}
		}
	}
	return fallback
}

func fromLabels(ct *cluster.Container, labels map[string]string) {
	ct.App = labels[cluster.LabelApp]
	ct.Revision, _ = strconv.Atoi(labels[cluster.LabelRevision])
	ct.Host = labels[cluster.LabelHost]
	ct.Controller = labels[cluster.LabelController]
	ct.Task = labels[cluster.LabelTask]
	ct.TaskDeadline = taskDeadline(labels[cluster.LabelTaskDeadline])
}

// taskDeadline reads a LabelTaskDeadline; zero when absent or unreadable.
func taskDeadline(label string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, label)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Stop stops the container (SIGTERM, then SIGKILL after timeout) and removes
// it, and returns once it is gone, also when a concurrent Stop removes it; a
// container that is already gone is not an error.
func (e *Engines) Stop(ctx context.Context, host, id string, timeout time.Duration) error {
	c, err := e.client(host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout+timeout)
	defer cancel()
	secs := int((timeout + time.Second - 1) / time.Second)
	err = c.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return e.hostError(host, "stop container "+id, err)
	}
	err = c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err):
		// A removal already in progress (a concurrent Stop): done only
		// once it is, as the caller may go on to remove the volumes the
		// container mounts.
		return e.waitRemoved(ctx, c, host, id)
	}
	return e.hostError(host, "remove container "+id, err)
}

// waitRemoved waits until the container id, whose removal is in progress,
// is gone.
func (e *Engines) waitRemoved(ctx context.Context, c *dockerclient.Client, host, id string) error {
	done, failed := c.ContainerWait(ctx, id, container.WaitConditionRemoved)
	select {
	case res := <-done:
		if res.Error != nil {
			return e.hostError(host, "wait for the removal of container "+id, errors.New(res.Error.Message))
		}
		return nil
	case err := <-failed:
		if cerrdefs.IsNotFound(err) {
			return nil
		}
		return e.hostError(host, "wait for the removal of container "+id, err)
	}
}

// List returns every container, running or not, that carries LabelApp and
// whose LabelHost is host. Containers of any controller are returned, with
// Controller set from the label, so the caller decides what is its own.
// Port is 0 for containers that are not running.
func (e *Engines) List(ctx context.Context, host string) ([]cluster.Container, error) {
	c, err := e.client(host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	list, err := e.listContainers(ctx, c, host)
	if err != nil {
		return nil, e.hostError(host, "list containers", err)
	}
	out := make([]cluster.Container, 0, len(list))
	for _, s := range list {
		ct := cluster.Container{ID: s.ID, Image: s.Image, State: s.State, Running: s.State == string(container.StateRunning),
			App: s.Labels.App, Host: s.Labels.Host, Controller: s.Labels.Controller, Task: s.Labels.Task,
			Created: time.Unix(s.Created, 0).UTC()}
		if ct.Task != "" {
			ct.TaskDeadline = taskDeadline(s.Labels.TaskDeadline)
		}
		ct.Revision, _ = strconv.Atoi(s.Labels.Revision)
		if ct.Running {
			ct.Port = summaryPort(s.Ports, host)
		}
		out = append(out, ct)
	}
	return out, nil
}

// listedContainer is the part of Docker's container summary that List
// reads, with the controller's labels as fields. The reconciler lists every
// host on every pass: decoding the client's full summary, each with a map
// of its labels, took a third more CPU to decode (0.63 against 0.51 ms per
// host of 100 containers) and three times the allocations.
type listedContainer struct {
	ID      string `json:"Id"`
	Image   string `json:"Image"`
	State   string `json:"State"`
	Created int64  `json:"Created"` // Unix seconds
	Labels  struct {
		App        string `json:"longshoreman.app"`
		Revision   string `json:"longshoreman.revision"`
		Host       string `json:"longshoreman.host"`
		Controller string `json:"longshoreman.controller"`
		Task       string `json:"longshoreman.task"`
		// TaskDeadline is LabelTaskDeadline.
		TaskDeadline string `json:"longshoreman.task.deadline"`
	} `json:"Labels"`
	Ports []container.Port `json:"Ports"`
}

// listContainers does GET /containers/json as the client's ContainerList
// does (same transport, negotiated API version and filters), decoding only
// listedContainer.
func (e *Engines) listContainers(ctx context.Context, c *dockerclient.Client, host string) ([]listedContainer, error) {
	// The client pings under a lock that its other calls of the host take
	// too, and a lock does not heed their deadlines: bounded by the dial
	// timeout, a ping to a host cut off holds them that long at most, not
	// for this List's whole timeout (the reconciler's 3s checks behind an
	// image pruner's 30s list would keep a lost host from being marked
	// down).
	nctx, cancel := context.WithTimeout(ctx, e.cfg.DialTimeout)
	c.NegotiateAPIVersion(nctx)
	cancel()
	args := filters.NewArgs(filters.Arg("label", cluster.LabelApp), filters.Arg("label", cluster.LabelHost+"="+host))
	f, err := filters.ToJSON(args)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if e.cfg.TLS != nil || e.cfg.CertPath != "" {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: e.endpoint(host), Path: "/v" + c.ClientVersion() + "/containers/json",
		RawQuery: url.Values{"all": {"1"}, "filters": {f}}.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg struct {
			Message string `json:"message"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(body, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(body))
		}
		if resp.StatusCode == http.StatusBadRequest {
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(msg.Message)
		}
		return nil, fmt.Errorf("%s (HTTP %d)", msg.Message, resp.StatusCode)
	}
	var list []listedContainer
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("reading the container list: %w", err)
	}
	return list, nil
}

func summaryPort(ports []container.Port, host string) int {
	fallback := 0
	for _, p := range ports {
		if p.Type != "tcp" || p.PublicPort == 0 {
			continue
		}
		if p.IP == host {
			return int(p.PublicPort)
		}
		if fallback == 0 {
			fallback = int(p.PublicPort)
		}
	}
	return fallback
}

// Logs returns up to the last lines lines of the container's stdout and
// stderr, interleaved in the order Docker received them.
func (e *Engines) Logs(ctx context.Context, host, id string, lines int) ([]string, error) {
	c, err := e.client(host)
	if err != nil {
		return nil, err
	}
	if lines <= 0 {
		lines = cluster.DefaultLogLines
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	// Timestamps let the two demultiplexed streams be merged back in order.
	rc, err := c.ContainerLogs(ctx, id, container.LogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Tail: strconv.Itoa(lines),
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on %s.", id, host)
		}
		return nil, e.hostError(host, "read the logs of container "+id, err)
	}
	defer rc.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil {
		return nil, e.hostError(host, "read the logs of container "+id, err)
	}
	merged := append(logLines(stdout.Bytes()), logLines(stderr.Bytes())...)
	sort.SliceStable(merged, func(i, j int) bool { return merged[i].at.Before(merged[j].at) })
	if len(merged) > lines {
		merged = merged[len(merged)-lines:]
	}
	out := make([]string, len(merged))
	for i, l := range merged {
		out[i] = l.text
	}
	return out, nil
}

type logLine struct {
	at   time.Time
	text string
}

// logLines splits Docker's "TIMESTAMP text" lines.
func logLines(b []byte) []logLine {
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		ts, text, ok := strings.Cut(line, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			text = line
		}
		out = append(out, logLine{at: at, text: text})
	}
	return out
}
