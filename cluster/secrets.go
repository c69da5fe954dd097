package cluster

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// SecretsKeyVar is the setting that holds the keys the env values are
// sealed with: a comma list of 32-byte keys in base64 or hex, the first of
// which seals (the others only open, while a rotation is under way).
const SecretsKeyVar = "LONGSHOREMAN_SECRETS_KEY"

// MetaSecretsCheck is the meta record holding a fixed text sealed with the
// key the store's env values are sealed with: a store is opened only with a
// keyring that opens it, so a wrong key stops the start instead of failing
// every read. Not a key (it reveals nothing of one), so backups carry it.
const MetaSecretsCheck = "secrets_check"

// SecretsKeySize is the length in bytes of one key.
const SecretsKeySize = chacha20poly1305.KeySize

const checkText = "longshoreman env values"

// Keyring holds the keys env values are sealed with (XChaCha20-Poly1305,
// a random 24-byte nonce per value): the first seals, any opens the values
// sealed with it. A sealed value is "ID:" followed by the base64 of the
// nonce and the ciphertext; ID, the first 4 bytes of the key's SHA-256 in
// hex, names the key without revealing it. A Keyring is safe for
// concurrent use.
type Keyring struct {
	keys []ringKey
}

type ringKey struct {
	id   string
	aead cipher.AEAD
}

// ParseKeyring parses a comma list of keys, each 32 bytes written in hex
// (64 digits) or base64. Its errors name SecretsKeyVar and the position of
// the key at fault, never the key.
func ParseKeyring(list string) (*Keyring, error) {
	k := &Keyring{}
	parts := strings.Split(list, ",")
	seen := map[string]bool{}
	for i, p := range parts {
		raw, err := decodeKey(strings.TrimSpace(p))
		if err != nil {
			return nil, Errorf(EINVALID, "%s: key %d of %d %v: give 32 random bytes in base64 or hex (e.g. from `openssl rand -base64 32`), the newest first.", SecretsKeyVar, i+1, len(parts), err)
		}
		aead, err := chacha20poly1305.NewX(raw)
		if err != nil {
			return nil, err
		}
		id := KeyID(raw)
		if seen[id] {
			return nil, Errorf(EINVALID, "%s: key %d of %d is given twice (key id %s): give each key once, the newest first.", SecretsKeyVar, i+1, len(parts), id)
		}
		seen[id] = true
		k.keys = append(k.keys, ringKey{id: id, aead: aead})
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("is empty")
	}
	if len(s) == 2*SecretsKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != SecretsKeySize {
				return nil, fmt.Errorf("is %d bytes, not %d", len(b), SecretsKeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("is neither hex nor base64")
}

// KeyID names a key: the first 4 bytes of its SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// NewSecretsKey returns a new random key in base64.
func NewSecretsKey() string {
	b := make([]byte, SecretsKeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ID returns the id of the key that seals.
func (k *Keyring) ID() string { return k.keys[0].id }

// IDs returns the ids of every key, the sealing one first.
func (k *Keyring) IDs() []string {
	ids := make([]string, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return ids
}

// Seal seals value with the first key, bound to context (the same context
// opens it): a sealed value moved to another place does not open there.
func (k *Keyring) Seal(value, context string) string {
	key := k.keys[0]
	nonce := make([]byte, key.aead.NonceSize(), key.aead.NonceSize()+len(value)+key.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := key.aead.Seal(nonce, nonce, []byte(value), []byte(context))
	return key.id + ":" + base64.RawStdEncoding.EncodeToString(out)
}

// Open opens a value Seal returned for the same context, with the key its
// id names. An error says which key it needs or that it was altered.
func (k *Keyring) Open(sealed, context string) (string, error) {
	id, body, ok := strings.Cut(sealed, ":")
	if !ok {
		return "", fmt.Errorf("not a sealed value")
	}
	key, ok := k.key(id)
	if !ok {
		return "", &KeyMissingError{ID: id}
	}
	buf, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(buf) < key.aead.NonceSize() {
		return "", fmt.Errorf("a sealed value of key id %s is damaged", id)
	}
	plain, err := key.aead.Open(nil, buf[:key.aead.NonceSize()], buf[key.aead.NonceSize():], []byte(context))
	if err != nil {
		return "", fmt.Errorf("a sealed value of key id %s does not open: it was altered or moved", id)
	}
	return string(plain), nil
}

// Current reports whether sealed was sealed with the first key.
func (k *Keyring) Current(sealed string) bool {
	id, _, _ := strings.Cut(sealed, ":")
	return id == k.keys[0].id
}

func (k *Keyring) key(id string) (ringKey, bool) {
	for _, key := range k.keys {
		if key.id == id {
			return key, true
		}
	}
	return ringKey{}, false
}

// KeyMissingError is the error of opening a value sealed with a key the
// keyring does not hold.
type KeyMissingError struct{ ID string }

func (e *KeyMissingError) Error() string {
	return fmt.Sprintf("the value was sealed with key id %s, which %s does not hold", e.ID, SecretsKeyVar)
}

// Check returns the store's check value (see MetaSecretsCheck), sealed
// with the first key.
func (k *Keyring) Check() []byte { return []byte(k.Seal(checkText, MetaSecretsCheck)) }

// Verify reports whether the keyring opens a check value; id is the key
// the check names (the one the store's values were sealed with).
func (k *Keyring) Verify(check []byte) (id string, ok bool) {
	id, _, _ = strings.Cut(string(check), ":")
	if k == nil {
		return id, false
	}
	plain, err := k.Open(string(check), MetaSecretsCheck)
	return id, err == nil && plain == checkText
}

// WrongSecretsKey is the error of opening a store whose check the keyring
// given does not open: where names the store, id the key it needs, source
// where the keys came from (SecretsKeyVar or a key file), and restore what
// to restore instead of giving the key ("" when nothing).
func WrongSecretsKey(where, id, source, restore string) error {
	if restore != "" {
		restore = " (or restore " + restore + ")"
	}
	return Errorf(EINVALID, "%s does not hold the key the env values of the %s were encrypted with (key id %s): give that key in %s%s, "+
		"with the new one first while rotating (%s=NEW,OLD).", source, where, id, SecretsKeyVar, restore, SecretsKeyVar)
}

// MissingSecretsKey is the error of opening without any key a store whose
// env values are encrypted (id names their key; "" for a store not yet
// encrypted). keyFile is the key file beside a data file, "" for an etcd
// store, which keeps no key of its own: its controllers must be given it.
func MissingSecretsKey(where, id, keyFile string) error {
	if keyFile == "" {
		of := ""
		if id != "" {
			of = " (key id " + id + ")"
		}
		return Errorf(EINVALID, "%s is not set: the env values of the %s are encrypted%s with a key kept outside etcd, which every controller needs. "+
			"Give every controller the same key in %s (for a new store, generate one with `openssl rand -base64 32`; keep a copy apart from etcd and its backups).", SecretsKeyVar, where, of, SecretsKeyVar)
	}
	return Errorf(EINVALID, "%s is not set and %s does not exist: the env values of the %s are encrypted (key id %s), and a controller does not start without their key. "+
		"Give it in %s, or restore %s from where you keep a copy.", SecretsKeyVar, keyFile, where, id, SecretsKeyVar, keyFile)
}
