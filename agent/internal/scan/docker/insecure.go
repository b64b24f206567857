package docker

import (
	"net"
	"net/netip"
	"strings"
)

// insecurePolicy decides which registries may be reached over plain HTTP:
// exactly those the engine itself would (its insecure registries, by name
// or IP range) plus loopback, where a clear-text hop never leaves the
// host.
type insecurePolicy struct {
	hosts map[string]bool
	cidrs []netip.Prefix
}

// newInsecurePolicy reads the engine's registry configuration. Entries
// that do not parse are ignored: they can only widen HTTP use.
func newInsecurePolicy(info Info) insecurePolicy {
	p := insecurePolicy{hosts: map[string]bool{}}
	for key, ic := range info.RegistryConfig.IndexConfigs {
		if !ic.Secure {
			p.hosts[key] = true
			if ic.Name != "" {
				p.hosts[ic.Name] = true
			}
		}
	}
	for _, c := range info.RegistryConfig.InsecureRegistryCIDRs {
		if pfx, err := netip.ParsePrefix(c); err == nil {
			p.cidrs = append(p.cidrs, pfx)
		}
	}
	return p
}

// allowHTTP reports whether host ("name", "name:port", "[v6]:port") may
// be spoken to without TLS. Names are not resolved: a CIDR matches only a
// literal address, so DNS cannot downgrade a registry to clear text.
func (p insecurePolicy) allowHTTP(host string) bool {
	if p.hosts[host] {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(name)
	if err != nil {
		return false
	}
	if addr.IsLoopback() {
		return true
	}
	for _, c := range p.cidrs {
		if c.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}
