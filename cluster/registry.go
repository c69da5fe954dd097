package cluster

import (
	"strings"

	"github.com/distribution/reference"
)

// Registry holds the credentials used to pull images from one registry.
// Password is never shown by the API or written to logs.
type Registry struct {
	Address  string `json:"registry"` // host[:port], as in image references
	Username string `json:"username"`
	Password string `json:"password"`
}

// ValidateRegistry checks a registry's address and credentials and returns
// the address normalized (lower case; docker.io for Docker Hub).
func ValidateRegistry(r Registry) (string, error) {
	addr := strings.ToLower(strings.TrimSpace(r.Address))
	if addr == "" {
		return "", Errorf(EINVALID, "A registry is required: give its host[:port] as it appears in image names, such as registry.example.com:5000.")
	}
	if addr == "index.docker.io" || addr == "registry-1.docker.io" {
		addr = "docker.io"
	}
	named, err := reference.ParseNormalizedNamed(addr + "/x")
	if err != nil || reference.Domain(named) != addr || strings.ContainsAny(addr, "/@") {
		return "", Errorf(EINVALID, "Registry %q is not a registry address: give host[:port] only, such as registry.example.com:5000.", clip(r.Address))
	}
	if r.Username == "" || r.Password == "" {
		return "", Errorf(EINVALID, "A username and a password are required for registry %s.", addr)
	}
	if len(r.Username) > 256 || len(r.Password) > 4096 || strings.ContainsAny(r.Username, "\x00\n\r") || strings.ContainsRune(r.Password, 0) {
		return "", Errorf(EINVALID, "The credentials for registry %s are too long or contain control characters.", addr)
	}
	return addr, nil
}

// RegistryOf returns the registry address of an image reference, such as
// "registry.example.com:5000" or "docker.io".
func RegistryOf(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}
