package cluster

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads from JSON as either a Go duration
// string ("30s", "1m") or a number of seconds, and writes as a string.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts "30s" or 30 (seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*d = Duration(v * float64(time.Second))
	case string:
		x, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration; write it as \"30s\" or a number of seconds", v)
		}
		*d = Duration(x)
	default:
		return fmt.Errorf("a duration must be a string such as \"30s\" or a number of seconds")
	}
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
