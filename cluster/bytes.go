package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Bytes is a size in bytes that reads from JSON as either a number of bytes
// or a string with Docker's units ("256m", "1g", "512k", "1.5g"; b, k, m, g
// are powers of 1024), and writes as a number.
type Bytes int64

// ParseBytes reads a size as `docker run --memory` does: a number with an
// optional unit b, k, m or g (powers of 1024; "kb", "mib" and the like are
// accepted too).
func ParseBytes(s string) (Bytes, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		case 't':
			mult, t = 1<<40, t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("%q is not a size; write it as a number of bytes or with a unit, such as \"256m\" or \"1g\"", s)
	}
	return Bytes(f * float64(mult)), nil
}

// String writes b with the largest unit that divides it ("256m"), as
// ParseBytes reads it.
func (b Bytes) String() string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if int64(b) >= u.size && int64(b)%u.size == 0 {
			return strconv.FormatInt(int64(b)/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// UnmarshalJSON accepts 268435456 or "256m".
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		if v < 0 {
			return fmt.Errorf("a size cannot be negative (%v)", v)
		}
		*b = Bytes(v)
	case string:
		x, err := ParseBytes(v)
		if err != nil {
			return err
		}
		*b = x
	default:
		return fmt.Errorf("a size must be a number of bytes or a string such as \"256m\"")
	}
	return nil
}
