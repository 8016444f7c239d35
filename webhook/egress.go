package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// EgressPolicy restricts the IP addresses the dispatcher connects to. It is
// checked against each resolved address at dial time, so a host name that
// resolves to a denied address is rejected too, and again on the socket
// itself when the default dialer is used.
//
// An address is allowed when it matches no Deny prefix and either Allow is
// empty or it matches an Allow prefix: Deny wins. IPv4-mapped IPv6 addresses
// are checked as IPv4 and IPv6 zones are ignored. A denied destination is a
// configuration error, so the job fails without retries.
type EgressPolicy struct {
	// Allow lists the permitted networks. Empty permits every network not
	// denied.
	Allow []netip.Prefix

	// Deny lists the forbidden networks.
	Deny []netip.Prefix
}

// PrivateNetworks returns the loopback, private, link-local (which holds
// cloud metadata addresses such as 169.254.169.254), carrier-grade NAT,
// unspecified and unique-local networks of IPv4 and IPv6, for use as
// EgressPolicy.Deny when webhooks must reach only the public internet.
func PrivateNetworks() []netip.Prefix {
	texts := []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
		"169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
		"::/128", "::1/128", "fc00::/7", "fe80::/10",
	}
	out := make([]netip.Prefix, len(texts))
	for i, t := range texts {
		out[i] = netip.MustParsePrefix(t)
	}
	return out
}

// Validate reports a prefix that is not valid, wrapping ErrInvalidConfig.
func (p *EgressPolicy) Validate() error {
	for _, list := range []struct {
		name     string
		prefixes []netip.Prefix
	}{{"allow", p.Allow}, {"deny", p.Deny}} {
		for i, prefix := range list.prefixes {
			if !prefix.IsValid() {
				return fmt.Errorf("egress %s entry %d %q: %w: use CIDR notation such as 10.0.0.0/8", list.name, i, prefix, ErrInvalidConfig)
			}
		}
	}
	return nil
}

// Allowed reports whether the policy permits connecting to addr. A nil
// policy permits every address.
func (p *EgressPolicy) Allowed(addr netip.Addr) bool {
	if p == nil {
		return true
	}
	addr = addr.WithZone("").Unmap()
	for _, prefix := range p.Deny {
		if prefix.Contains(addr) {
			return false
		}
	}
	if len(p.Allow) == 0 {
		return true
	}
	for _, prefix := range p.Allow {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// dialFunc is the signature of net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// defaultDial returns a net.Dialer's DialContext whose socket control hook
// rejects addresses the policy denies.
func defaultDial(policy *EgressPolicy) dialFunc {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if policy != nil {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("connect to %s: %w: address is not an IP address and port", address, ErrEgressDenied)
			}
			if !policy.Allowed(ap.Addr()) {
				return fmt.Errorf("connect to %s: %w", address, ErrEgressDenied)
			}
			return nil
		}
	}
	return d.DialContext
}

// egressDial resolves the host of address itself, drops the addresses the
// policy denies and dials the remaining ones in order by IP, so that name
// resolution cannot hand the dialer an address the policy never saw.
func egressDial(policy *EgressPolicy, resolver Resolver, dial dialFunc) dialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("connect to %q: %w", address, err)
		}

		var addrs []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{ip}
		} else {
			addrs, err = resolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, fmt.Errorf("resolve %q: %w", host, err)
			}
		}

		var denied []netip.Addr
		var lastErr error
		for _, ip := range addrs {
			if !policy.Allowed(ip) {
				denied = append(denied, ip)
				continue
			}
			conn, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			lastErr = err
		}
		if lastErr != nil {
			return nil, lastErr
		}
		if len(denied) > 0 {
			return nil, fmt.Errorf("connect to %s: addresses %v: %w: allow the network in the egress policy or change the URL", address, denied, ErrEgressDenied)
		}
		return nil, fmt.Errorf("resolve %q: %w", host, errNoAddresses)
	}
}

var errNoAddresses = errors.New("no addresses found")
