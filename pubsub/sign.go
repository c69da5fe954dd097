package pubsub

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MinKeyLength is the shortest routing-table signing key accepted.
const MinKeyLength = 16

// signaturePrefix starts the field a signed message ends with.
const signaturePrefix = `,"signature":"`

// Why Verify refused a message.
var (
	ErrUnsigned     = errors.New("message is not signed")
	ErrBadSignature = errors.New("signature matches none of the keys")
)

// ParseKeys splits a comma-separated list of signing keys (the value of
// LONGSHOREMAN_ROUTES_KEY). The first one signs; routers accept any of them,
// so a key is rotated by giving routers "new,old", then the controller
// "new", then routers "new". It refuses an empty list and short keys.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if len(k) < MinKeyLength {
			return nil, fmt.Errorf("a routes key is %d characters long; use at least %d (the controller generates 64 when LONGSHOREMAN_ROUTES_KEY is unset)", len(k), MinKeyLength)
		}
		keys = append(keys, []byte(k))
	}
	if len(keys) == 0 {
		return nil, errors.New("no routes key given")
	}
	return keys, nil
}

// Sign returns msg, an encoded table, with a last field "signature": the
// hex HMAC-SHA256 of msg's exact bytes under key. Readers that ignore the
// field (routers of earlier releases) decode the table as before.
func Sign(msg, key []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	sum := hex.EncodeToString(mac.Sum(nil))
	out := make([]byte, 0, len(msg)+len(signaturePrefix)+len(sum)+2)
	out = append(out, msg[:len(msg)-1]...) // without the final '}'
	out = append(out, signaturePrefix...)
	out = append(out, sum...)
	return append(out, '"', '}')
}

// Verify checks the signature that Sign added against each key and returns
// the signed bytes (the message without its signature). It returns
// ErrUnsigned when the message does not end with a signature field and
// ErrBadSignature when no key matches.
func Verify(msg []byte, keys [][]byte) ([]byte, error) {
	const sumLen = 2 * sha256.Size
	n := len(msg) - len(`"}`) - sumLen - len(signaturePrefix)
	if n < 1 || !bytes.HasSuffix(msg, []byte(`"}`)) || !bytes.Equal(msg[n:n+len(signaturePrefix)], []byte(signaturePrefix)) {
		return nil, ErrUnsigned
	}
	got := make([]byte, sha256.Size)
	if _, err := hex.Decode(got, msg[n+len(signaturePrefix):len(msg)-2]); err != nil {
		return nil, ErrBadSignature
	}
	signed := append(msg[:n:n], '}')
	for _, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write(signed)
		if hmac.Equal(mac.Sum(nil), got) {
			return signed, nil
		}
	}
	return nil, ErrBadSignature
}
