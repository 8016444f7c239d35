package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestEgressPolicyAllowed(t *testing.T) {
	deny := &EgressPolicy{Deny: PrivateNetworks()}
	allowList := &EgressPolicy{
		Allow: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		Deny:  []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")},
	}
	tests := []struct {
		name   string
		policy *EgressPolicy
		addr   string
		want   bool
	}{
		{"nil policy", nil, "10.0.0.1", true},
		{"public", deny, "203.0.113.10", true},
		{"private", deny, "10.20.30.40", false},
		{"metadata", deny, "169.254.169.254", false},
		{"loopback", deny, "127.0.0.1", false},
		{"ipv6 loopback", deny, "::1", false},
		{"ipv4-mapped private", deny, "::ffff:192.168.1.1", false},
		{"zoned link-local", deny, "fe80::1%eth0", false},
		{"unique local", deny, "fd00::1", false},
		{"allow list hit", allowList, "198.51.100.20", true},
		{"allow list miss", allowList, "203.0.113.10", false},
		{"deny wins over allow", allowList, "198.51.100.7", false},
		{"allow list ipv6", allowList, "2001:db8::5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Allowed(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

// fakeResolver maps host names to addresses.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	return addrs, nil
}

// fakeDialer records the addresses it is asked for and connects every one
// of them to a loopback server, so that no test dials a real address.
type fakeDialer struct {
	target string
	mu     sync.Mutex
	dialed []string
}

func (f *fakeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	f.mu.Lock()
	f.dialed = append(f.dialed, address)
	f.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, f.target)
}

func (f *fakeDialer) addresses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dialed...)
}

func TestEgressPolicyAtDialTime(t *testing.T) {
	resolver := fakeResolver{
		"hooks.example.com":    {netip.MustParseAddr("203.0.113.10")},
		"metadata.example.com": {netip.MustParseAddr("169.254.169.254")},
		"rebind.example.com":   {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("203.0.113.11")},
		"internal.example.com": {netip.MustParseAddr("192.168.1.5"), netip.MustParseAddr("::ffff:10.1.1.1")},
	}
	tests := []struct {
		name       string
		url        string
		policy     *EgressPolicy
		wantStatus Status
		wantDialed []string
		wantError  string
	}{
		{
			name:       "public name allowed",
			url:        "http://hooks.example.com/in",
			policy:     &EgressPolicy{Deny: PrivateNetworks()},
			wantStatus: StatusSuccess,
			wantDialed: []string{"203.0.113.10:80"},
		},
		{
			name:       "metadata name denied",
			url:        "http://metadata.example.com/latest",
			policy:     &EgressPolicy{Deny: PrivateNetworks()},
			wantStatus: StatusFailed,
			wantError:  "169.254.169.254",
		},
		{
			name:       "private IP literal denied",
			url:        "http://10.9.8.7:8080/hook",
			policy:     &EgressPolicy{Deny: PrivateNetworks()},
			wantStatus: StatusFailed,
			wantError:  "10.9.8.7",
		},
		{
			name:       "only allowed address of a name dialed",
			url:        "http://rebind.example.com/in",
			policy:     &EgressPolicy{Deny: PrivateNetworks()},
			wantStatus: StatusSuccess,
			wantDialed: []string{"203.0.113.11:80"},
		},
		{
			name:       "every address private",
			url:        "https://internal.example.com/in",
			policy:     &EgressPolicy{Deny: PrivateNetworks()},
			wantStatus: StatusFailed,
			wantError:  "192.168.1.5",
		},
		{
			name:       "outside allow list",
			url:        "http://hooks.example.com/in",
			policy:     &EgressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
			wantStatus: StatusFailed,
			wantError:  "203.0.113.10",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, statusAlways(http.StatusOK))
			dialer := &fakeDialer{target: rc.Listener.Addr().String()}
			cfg := testConfig()
			cfg.Egress = tt.policy
			cfg.Resolver = resolver
			cfg.DialContext = dialer.DialContext
			h := startDispatcher(t, nil, cfg, nil)

			got := h.deliver(t, Job{URL: tt.url})

			if got.Status != tt.wantStatus {
				t.Fatalf("status = %s, want %s (last error %q)", got.Status, tt.wantStatus, got.LastError)
			}
			if dialed := dialer.addresses(); strings.Join(dialed, ",") != strings.Join(tt.wantDialed, ",") {
				t.Errorf("dialed %v, want %v", dialed, tt.wantDialed)
			}
			if tt.wantStatus == StatusFailed {
				if len(got.Attempts) != 1 || got.Attempts[0].Retryable {
					t.Errorf("attempts = %+v, want one that is not retryable", got.Attempts)
				}
				for _, want := range []string{"denied by egress policy", tt.wantError} {
					if !strings.Contains(got.LastError, want) {
						t.Errorf("last error = %q, want it to contain %q", got.LastError, want)
					}
				}
			}
		})
	}
}

func TestDefaultDialerChecksSocketAddress(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusOK))
	tests := []struct {
		name    string
		policy  *EgressPolicy
		wantErr bool
	}{
		{"loopback denied", &EgressPolicy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, true},
		{"loopback allowed", &EgressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := defaultDial(tt.policy)(t.Context(), "tcp", rc.Listener.Addr().String())
			if conn != nil {
				_ = conn.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("dial error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, ErrEgressDenied) {
				t.Errorf("dial error = %v, want ErrEgressDenied", err)
			}
		})
	}
}
