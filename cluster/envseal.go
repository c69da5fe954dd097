package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// How a store holds env values: the App and Revision records it writes
// carry each value sealed (Keyring.Seal, bound to the app and the env's
// name, so that a value cannot be moved to another env or app), the names
// in clear, and the marker "envs_sealed": 1. A record without the marker
// is a plaintext record of a release before encryption: it is read as it
// is, and sealed at the first open of its store (never guessed from the
// look of a value). Decoded structs hold the values in clear, and no
// marker.

// sealedApp and sealedRevision are the records as stored.
type sealedApp struct {
	App
	EnvsSealed int `json:"envs_sealed,omitempty"`
}

type sealedRevision struct {
	Revision
	EnvsSealed int `json:"envs_sealed,omitempty"`
}

func envContext(app, key string) string { return app + "\x00" + key }

// EncodeApp returns the record of a, its env values sealed with the first
// key. A nil keyring (a store opened without keys) refuses to write.
func (k *Keyring) EncodeApp(a *App) ([]byte, error) {
	if k == nil {
		return nil, errNoKeyring
	}
	rec := sealedApp{App: *a, EnvsSealed: 1}
	rec.Envs = make(map[string]string, len(a.Envs))
	for key, v := range a.Envs {
		rec.Envs[key] = k.Seal(v, envContext(a.Name, key))
	}
	return json.Marshal(rec)
}

// DecodeApp reads an app record, plaintext or sealed. A sealed one needs
// a keyring holding its key.
func (k *Keyring) DecodeApp(buf []byte) (*App, error) {
	var rec sealedApp
	if err := json.Unmarshal(buf, &rec); err != nil {
		return nil, err
	}
	if rec.EnvsSealed != 0 {
		for key, v := range rec.Envs {
			plain, err := k.open(v, rec.Name, key)
			if err != nil {
				return nil, err
			}
			rec.Envs[key] = plain
		}
	}
	return &rec.App, nil
}

// EncodeRevision returns the record of r, its env values sealed.
func (k *Keyring) EncodeRevision(r *Revision) ([]byte, error) {
	if k == nil {
		return nil, errNoKeyring
	}
	rec := sealedRevision{Revision: *r, EnvsSealed: 1}
	rec.Envs = make([]string, len(r.Envs))
	for i, kv := range r.Envs {
		key, v, _ := ParseEnv(kv)
		rec.Envs[i] = key + "=" + k.Seal(v, envContext(r.App, key))
	}
	return json.Marshal(rec)
}

// DecodeRevision reads a revision record, plaintext or sealed.
func (k *Keyring) DecodeRevision(buf []byte) (*Revision, error) {
	var rec sealedRevision
	if err := json.Unmarshal(buf, &rec); err != nil {
		return nil, err
	}
	if rec.EnvsSealed != 0 {
		for i, kv := range rec.Envs {
			key, v, _ := strings.Cut(kv, "=")
			plain, err := k.open(v, rec.App, key)
			if err != nil {
				return nil, err
			}
			rec.Envs[i] = key + "=" + plain
		}
	}
	return &rec.Revision, nil
}

// DecodeDeploying is DecodeRevision for a revision still deploying, and
// nil for another: only those cut short are read whole (env values
// opened).
func (k *Keyring) DecodeDeploying(buf []byte) (*Revision, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(buf, &st); err != nil || st.Status != StatusDeploying {
		return nil, err
	}
	return k.DecodeRevision(buf)
}

func (k *Keyring) open(sealed, app, key string) (string, error) {
	if k == nil {
		id, _, _ := strings.Cut(sealed, ":")
		return "", &KeyMissingError{ID: id}
	}
	v, err := k.Open(sealed, envContext(app, key))
	if err != nil {
		return "", fmt.Errorf("env %s of app %s: %w", key, app, err)
	}
	return v, nil
}

var errNoKeyring = Errorf(EINTERNAL, "This store was opened without the key of its env values (%s): it cannot write apps or revisions.", SecretsKeyVar)

// Sealable reports whether records of kind hold sealed values: env values
// or a registry's password.
func Sealable(kind string) bool {
	return kind == RecordApp || kind == RecordRevision || kind == RecordRegistry
}

// Reseal returns a record of kind RecordApp, RecordRevision or
// RecordRegistry with every env value or password sealed with the first
// key: a plaintext record of an earlier release, or one sealed (partly)
// with another key of the ring. changed is false when it already was;
// records of other kinds never change.
func (k *Keyring) Reseal(kind string, value []byte) (out []byte, changed bool, err error) {
	switch kind {
	case RecordRegistry:
		return k.resealRegistry(value)
	case RecordApp:
		var rec sealedApp
		if err := json.Unmarshal(value, &rec); err != nil {
			return nil, false, err
		}
		if rec.EnvsSealed != 0 && k.allCurrent(slices.Collect(maps.Values(rec.Envs))) {
			return value, false, nil
		}
		a, err := k.DecodeApp(value)
		if err != nil {
			return nil, false, err
		}
		out, err = k.EncodeApp(a)
		return out, err == nil, err
	case RecordRevision:
		var rec sealedRevision
		if err := json.Unmarshal(value, &rec); err != nil {
			return nil, false, err
		}
		vals := make([]string, len(rec.Envs))
		for i, kv := range rec.Envs {
			_, vals[i], _ = strings.Cut(kv, "=")
		}
		if rec.EnvsSealed != 0 && k.allCurrent(vals) {
			return value, false, nil
		}
		r, err := k.DecodeRevision(value)
		if err != nil {
			return nil, false, err
		}
		out, err = k.EncodeRevision(r)
		return out, err == nil, err
	}
	return value, false, nil
}

func (k *Keyring) allCurrent(sealed []string) bool {
	for _, v := range sealed {
		if !k.Current(v) {
			return false
		}
	}
	return true
}
