package scheduler

import "net/netip"

// addrLess orders IP addresses numerically (10.0.0.9 before 10.0.0.10),
// falling back to string order for anything that does not parse.
func addrLess(a, b string) bool {
	x, errA := netip.ParseAddr(a)
	y, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return a < b
	}
	return x.Less(y)
}
