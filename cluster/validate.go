package cluster

import (
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/distribution/reference"
)

var (
	labelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidateAppName checks that name is an RFC 1123 host name in lower case
// with at least two labels, such as shop.example.com.
func ValidateAppName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "An app name is required: give a domain name such as shop.example.com.")
	}
	if len(name) > MaxAppNameLength {
		return Errorf(EINVALID, "App name is %d characters long; a domain name has at most %d.", len(name), MaxAppNameLength)
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return Errorf(EINVALID, "App name %q is not a domain name: give one with a dot, such as %s.example.com.", clip(name), clip(name))
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return Errorf(EINVALID, "App name %q is not a valid domain name: each dot-separated part must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.", clip(name))
		}
	}
	return nil
}

// ValidateHost checks that addr is an IP address and returns its canonical
// form (IPv6 compressed, no zone).
func ValidateHost(addr string) (string, error) {
	if addr == "" {
		return "", Errorf(EINVALID, "A host is required: give the IP address of a node whose Docker API is reachable, such as 10.0.0.5.")
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" {
		return "", Errorf(EINVALID, "Host %q is not an IP address: give the node's IP, such as 10.0.0.5.", clip(addr))
	}
	ip = ip.Unmap()
	var kind string
	switch {
	case ip.IsUnspecified():
		kind = "the unspecified address"
	case ip.IsMulticast():
		kind = "a multicast address"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		kind = "the broadcast address"
	case ip.IsLinkLocalUnicast():
		kind = "a link-local address"
	}
	if kind != "" {
		return "", Errorf(EINVALID, "Host %q is %s, not a node's address: give the node's own unicast IP (loopback such as 127.0.0.1 is fine on a single machine).", clip(addr), kind)
	}
	return ip.Unmap().String(), nil
}

// ValidateEnvKey checks that key is a portable environment variable name.
func ValidateEnvKey(key string) error {
	if key == "" {
		return Errorf(EINVALID, "An env key is required: write the variable as KEY=value.")
	}
	if len(key) > MaxEnvKeyLength || !envKeyRE.MatchString(key) {
		return Errorf(EINVALID, "Env key %q is not valid: use letters, digits and underscores, not starting with a digit (at most %d characters).", clip(key), MaxEnvKeyLength)
	}
	return nil
}

// ParseEnv splits "KEY=value" and validates both sides. The value may
// contain '=' and tabs and be empty, but not a NUL byte, invalid UTF-8 or
// another control character (a newline or an escape in a value would break
// every listing of the envs).
func ParseEnv(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", Errorf(EINVALID, "Env %q has no '=': write it as KEY=value.", clip(s))
	}
	if err := ValidateEnvKey(key); err != nil {
		return "", "", err
	}
	if len(value) > MaxEnvValueLength {
		return "", "", Errorf(EINVALID, "The value of %s is %d bytes; the limit is %d.", key, len(value), MaxEnvValueLength)
	}
	if strings.IndexByte(value, 0) >= 0 || !utf8.ValidString(value) {
		return "", "", Errorf(EINVALID, "The value of %s has a NUL byte or invalid UTF-8; env values must be text.", key)
	}
	if i := strings.IndexFunc(value, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(value[i:])
		return "", "", Errorf(EINVALID, "The value of %s has the control character %U at byte %d; env values must be one line of text: encode multi-line values, e.g. in base64.", key, r, i)
	}
	return key, value, nil
}

// ValidateEnvs checks the envs an app would have after a change against
// MaxEnvs and MaxEnvBytes: every revision keeps a copy of them.
func ValidateEnvs(app string, envs map[string]string) error {
	if len(envs) > MaxEnvs {
		return Errorf(EINVALID, "App %s would have %d envs; the limit is %d (MaxEnvs): unset envs it no longer needs.", app, len(envs), MaxEnvs)
	}
	size := 0
	for k, v := range envs {
		size += len(k) + 1 + len(v)
	}
	if size > MaxEnvBytes {
		return Errorf(EINVALID, "The envs of app %s would take %d bytes as KEY=value; the limit is %d (MaxEnvBytes): unset envs it no longer needs or shorten their values.", app, size, MaxEnvBytes)
	}
	return nil
}

// ValidateImage checks that image is a Docker image reference such as
// registry.example.com:5000/team/app:1.2 and returns it normalized as given
// (no implicit docker.io prefix is added).
func ValidateImage(image string) error {
	if image == "" {
		return Errorf(EINVALID, "An image is required: give a reference such as registry.example.com/app:1.0.")
	}
	if len(image) > MaxImageReferenceBytes {
		return Errorf(EINVALID, "Image reference is %d bytes long; the limit is %d.", len(image), MaxImageReferenceBytes)
	}
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return Errorf(EINVALID, "Image %q is not a valid Docker image reference (%v): write it as [registry/]name[:tag][@digest], in lower case.", clip(image), err)
	}
	return nil
}

// ValidatePort checks a container port.
func ValidatePort(port int) error {
	if port < 1 || port > 65535 {
		return Errorf(EINVALID, "Port %d is out of range: give the container port the app listens on, from 1 to 65535.", port)
	}
	return nil
}

// ValidateHealthCheck checks a health check's path and timeout.
func ValidateHealthCheck(h HealthCheck) error {
	if h.Path != "" && (!strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " \t\r\n") || len(h.Path) > 1024) {
		return Errorf(EINVALID, "Health check path %q is not valid: give an absolute URL path such as /ping.", clip(h.Path))
	}
	if h.Timeout != 0 && (h.Timeout.D() < MinHealthTimeout || h.Timeout.D() > MaxHealthTimeout) {
		return Errorf(EINVALID, "Health check timeout %s is out of range: give one from %s to %s.", h.Timeout.D(), MinHealthTimeout, MaxHealthTimeout)
	}
	return nil
}

// ValidateCount checks an instance count against the configured maximum.
// Zero is allowed only when allowZero is set (scale and kill).
func ValidateCount(n, max int, allowZero bool) error {
	min := 1
	if allowZero {
		min = 0
	}
	if n < min || n > max {
		return Errorf(EINVALID, "Count %d is out of range: give a number of instances from %d to %d.", n, min, max)
	}
	return nil
}

// EnvList returns envs as sorted KEY=value strings.
func EnvList(envs map[string]string) []string {
	list := make([]string, 0, len(envs))
	for k, v := range envs {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// clip shortens s for quoting in an error message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	for i := 80; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return s[:80] + "..."
}
