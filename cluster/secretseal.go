package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
)

// How a store holds the root API token and the registries' passwords,
// sealed with the keyring of the env values:
//   - the token in the meta record MetaTokenSealed, bound to that name. The
//     meta record MetaToken is the plaintext token of a release before
//     encryption: read as it is, and replaced by MetaTokenSealed at the
//     next open for writing (the record's name is the marker: a value is
//     never guessed sealed or not from its look);
//   - each registry's password sealed, bound to the registry's address,
//     in a record carrying the marker "password_sealed": 1. A record
//     without the marker is a plaintext record of an earlier release,
//     read as it is and sealed at the next open for writing.
//
// So a backup (with or without keys) or a stolen data file holds the
// registries' addresses and usernames, never the token or a password.
const (
	MetaToken       = "token"
	MetaTokenSealed = "token_sealed"
)

// sealedRegistry is a registry record as stored.
type sealedRegistry struct {
	Registry
	PasswordSealed int `json:"password_sealed,omitempty"`
}

func registryContext(addr string) string { return RecordRegistry + "\x00" + addr }

// SealToken returns the MetaTokenSealed record of the API token.
func (k *Keyring) SealToken(token string) ([]byte, error) {
	if k == nil {
		return nil, errNoSecretsKeyring
	}
	return []byte(k.Seal(token, MetaTokenSealed)), nil
}

// OpenToken opens a MetaTokenSealed record. A nil keyring (a read-only
// open without keys) returns a *KeyMissingError.
func (k *Keyring) OpenToken(sealed []byte) (string, error) {
	if k == nil {
		id, _, _ := strings.Cut(string(sealed), ":")
		return "", &KeyMissingError{ID: id}
	}
	token, err := k.Open(string(sealed), MetaTokenSealed)
	if err != nil {
		return "", fmt.Errorf("the API token: %w", err)
	}
	return token, nil
}

// ResealToken returns the MetaTokenSealed record for a store whose meta
// records MetaToken and MetaTokenSealed are plain and sealed (nil when
// absent): plain sealed when there is one, else sealed anew with the first
// key when another key sealed it (pass sealed nil to seal only a plaintext
// token). changed is false when there is nothing to write.
func (k *Keyring) ResealToken(plain, sealed []byte) (out []byte, changed bool, err error) {
	switch {
	case plain != nil:
		out, err = k.SealToken(string(plain))
	case sealed != nil && !k.Current(string(sealed)):
		var token string
		if token, err = k.OpenToken(sealed); err == nil {
			out, err = k.SealToken(token)
		}
	default:
		return sealed, false, nil
	}
	return out, err == nil, err
}

// EncodeRegistry returns the record of r, its password sealed. A nil
// keyring refuses to write.
func (k *Keyring) EncodeRegistry(r Registry) ([]byte, error) {
	if k == nil {
		return nil, errNoSecretsKeyring
	}
	rec := sealedRegistry{Registry: r, PasswordSealed: 1}
	rec.Password = k.Seal(r.Password, registryContext(r.Address))
	return json.Marshal(rec)
}

// DecodeRegistry reads a registry record, plaintext or sealed. A sealed
// one needs a keyring holding its key.
func (k *Keyring) DecodeRegistry(buf []byte) (Registry, error) {
	var rec sealedRegistry
	if err := json.Unmarshal(buf, &rec); err != nil {
		return Registry{}, err
	}
	if rec.PasswordSealed != 0 {
		if k == nil {
			id, _, _ := strings.Cut(rec.Password, ":")
			return Registry{}, &KeyMissingError{ID: id}
		}
		plain, err := k.Open(rec.Password, registryContext(rec.Address))
		if err != nil {
			return Registry{}, fmt.Errorf("the password of registry %s: %w", rec.Address, err)
		}
		rec.Password = plain
	}
	return rec.Registry, nil
}

// SealPlaintext is Reseal for the plaintext records of an earlier release
// only (records without a marker): a record sealed with any key of the
// ring is left as it is, so that an open while rotating (NEW,OLD) seals
// nothing with NEW that OLD alone, the rotation given up, would not open.
func (k *Keyring) SealPlaintext(kind string, value []byte) (out []byte, changed bool, err error) {
	var marks struct {
		Envs     int `json:"envs_sealed"`
		Password int `json:"password_sealed"`
	}
	if !Sealable(kind) {
		return value, false, nil
	}
	if err := json.Unmarshal(value, &marks); err != nil {
		return nil, false, err
	}
	if marks.Envs != 0 || marks.Password != 0 {
		return value, false, nil
	}
	return k.Reseal(kind, value)
}

func (k *Keyring) resealRegistry(value []byte) ([]byte, bool, error) {
	var rec sealedRegistry
	if err := json.Unmarshal(value, &rec); err != nil {
		return nil, false, err
	}
	if rec.PasswordSealed != 0 && k.Current(rec.Password) {
		return value, false, nil
	}
	r, err := k.DecodeRegistry(value)
	if err != nil {
		return nil, false, err
	}
	out, err := k.EncodeRegistry(r)
	return out, err == nil, err
}

var errNoSecretsKeyring = Errorf(EINTERNAL, "This store was opened without the key of its secrets (%s): it cannot write the API token or a registry's password.", SecretsKeyVar)
