package http

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// Limits of a deploy's resource fields.
const (
	// MinMemory is Docker's smallest memory limit.
	MinMemory = 6 << 20
	// MaxCPUs is the largest CPU limit accepted, in cores.
	MaxCPUs = 1024
)

// MemoryLimit is the memory field of a deploy: a size as `docker run
// --memory` takes it ("256m", "1g", or a number of bytes), at least 6m, or
// "none" to remove the app's limit. Left out (or 0), the app keeps its own.
type MemoryLimit struct {
	Bytes cluster.Bytes
	None  bool
}

// UnmarshalJSON accepts 268435456, "256m" and "none".
func (m *MemoryLimit) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	return m.parse(s)
}

// MarshalJSON writes "none" or the number of bytes.
func (m MemoryLimit) MarshalJSON() ([]byte, error) {
	if m.None {
		return []byte(`"none"`), nil
	}
	return strconv.AppendInt(nil, int64(m.Bytes), 10), nil
}

func (m *MemoryLimit) parse(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		*m = MemoryLimit{None: true}
		return nil
	}
	v, err := cluster.ParseBytes(s)
	if err != nil {
		return fmt.Errorf("must be a size such as \"256m\" or \"1g\", or \"none\" to remove the limit; got %q", clipBytes([]byte(s)))
	}
	*m = MemoryLimit{Bytes: v}
	return nil
}

// CPULimit is the cpus field of a deploy: the cores each instance may use
// (0.5, "1.5"), more than 0 and at most MaxCPUs, or "none" to remove the
// app's limit. Left out (or 0), the app keeps its own.
type CPULimit struct {
	CPUs float64
	None bool
}

// UnmarshalJSON accepts 0.5, "0.5" and "none".
func (c *CPULimit) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	return c.parse(s)
}

// MarshalJSON writes "none" or the number of cores.
func (c CPULimit) MarshalJSON() ([]byte, error) {
	if c.None {
		return []byte(`"none"`), nil
	}
	return strconv.AppendFloat(nil, c.CPUs, 'f', -1, 64), nil
}

func (c *CPULimit) parse(s string) error {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		*c = CPULimit{None: true}
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("must be a number of cores such as 0.5 or 2, or \"none\" to remove the limit; got %q", clipBytes([]byte(s)))
	}
	*c = CPULimit{CPUs: v}
	return nil
}

// limits checks the request's memory and CPU limits and returns them as
// cluster.DeployRequest takes them: 0 keeps the app's, negative removes it.
func (req *DeployRequest) limits() (cluster.Bytes, float64, error) {
	var mem cluster.Bytes
	var cpus float64
	if m := req.Memory; m != nil {
		switch {
		case m.None:
			mem = -1
		case m.Bytes != 0 && m.Bytes < MinMemory:
			return 0, 0, cluster.Errorf(cluster.EINVALID, "Field \"memory\" is %s, below Docker's minimum of 6m: give at least \"6m\", or \"none\" to remove the limit.", m.Bytes)
		default:
			mem = m.Bytes
		}
	}
	if c := req.CPUs; c != nil {
		switch {
		case c.None:
			cpus = -1
		case c.CPUs < 0 || c.CPUs > MaxCPUs:
			return 0, 0, cluster.Errorf(cluster.EINVALID, "Field \"cpus\" is %v: give a number of cores above 0 and at most %d (such as 0.5), or \"none\" to remove the limit.", c.CPUs, MaxCPUs)
		case c.CPUs > 0 && c.CPUs < 0.01:
			return 0, 0, cluster.Errorf(cluster.EINVALID, "Field \"cpus\" is %v, below Docker's minimum of 0.01 cores: give at least 0.01, or \"none\" to remove the limit.", c.CPUs)
		default:
			cpus = c.CPUs
		}
	}
	return mem, cpus, nil
}
