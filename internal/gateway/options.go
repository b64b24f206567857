package gateway

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/timing"
)

// Options configure the gateway. The zero value of each field means its
// default (see Defaults).
type Options struct {
	// BindAddress is where the HTTPS server listens, such as ":9443".
	BindAddress string
	// PublicURL is the address hosts use; its host name goes into the
	// self-signed serving certificate.
	PublicURL string
	// Namespace holds the gateway's Secrets (TLS and work-signing key).
	Namespace string
	// TLSSecretName is a Secret in cert-manager's format (tls.crt, tls.key,
	// ca.crt). When absent, the gateway creates a self-signed CA and
	// certificate and stores them there.
	TLSSecretName string
	// SigningSecretName holds the Ed25519 key that signs work documents.
	SigningSecretName string
	// ExtraDNSNames go into a self-signed certificate besides localhost.
	ExtraDNSNames []string
	// ClockSkew is how far a request's timestamp may be from the gateway's
	// clock.
	ClockSkew time.Duration
	// DefaultCheckInInterval applies to Agents without spec.checkInInterval.
	DefaultCheckInInterval time.Duration
	// HeartbeatInterval is the check-in interval in heartbeat mode.
	HeartbeatInterval time.Duration
	// PerIPRate and PerIPBurst limit requests per client address.
	PerIPRate  float64
	PerIPBurst int
	// PerAgentRate and PerAgentBurst limit requests per agent.
	PerAgentRate  float64
	PerAgentBurst int
	// RegisterRate and RegisterBurst limit enrollment attempts per address,
	// so token secrets cannot be guessed at speed.
	RegisterRate  float64
	RegisterBurst int
	// BodyBudget is how many bytes of request bodies the gateway reads at
	// once from senders it could not verify before the body (registrations,
	// agents that send no protocol.HeaderContentSHA256);
	// PerAddressBodyBudget is one client address's share of it (see
	// admission.go).
	BodyBudget           int64
	PerAddressBodyBudget int64
	// ReleaseDir holds signed agent releases (see internal/release), served
	// under protocol.ReleasesPrefix; empty serves none.
	ReleaseDir string
	// ReleasePublicKey (base64) is written into the install script, which
	// pins it on the host for self-updates.
	ReleasePublicKey string
	// PeerAddress is the URL other gateway replicas reach this one at
	// (https://<pod IP>:<port>), or only its host or IP, to which the
	// port of BindAddress is added. Set, the replicas share the fleet:
	// each agent's requests are served by one owning replica (see
	// peers.go). Empty runs a lone gateway.
	PeerAddress string
	// CertReloadInterval is how often the TLS Secret is read again to pick
	// up a renewed certificate.
	CertReloadInterval time.Duration
	// PeerName names this replica among its peers (the pod name); it must
	// be unique and stable for the replica's life.
	PeerName string
}

// Defaults fills unset options.
func (o Options) Defaults() Options {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.BindAddress == "" {
		o.BindAddress = ":9443"
	}
	if o.Namespace == "" {
		o.Namespace = "redflag-system"
	}
	if o.TLSSecretName == "" {
		o.TLSSecretName = "redflag-gateway-tls"
	}
	if o.SigningSecretName == "" {
		o.SigningSecretName = "redflag-work-signing"
	}
	if o.PeerAddress != "" && !strings.Contains(o.PeerAddress, "://") {
		// A bare host or IP (the chart passes the pod IP, which may be
		// IPv6): JoinHostPort brackets it as a URL needs.
		if _, port, err := net.SplitHostPort(o.BindAddress); err == nil {
			o.PeerAddress = "https://" + net.JoinHostPort(strings.Trim(o.PeerAddress, "[]"), port)
		}
	}
	set(&o.ClockSkew, 2*time.Minute)
	set(&o.CertReloadInterval, time.Minute)
	set(&o.DefaultCheckInInterval, timing.DefaultCheckInInterval)
	set(&o.HeartbeatInterval, timing.HeartbeatInterval)
	if o.PerIPRate == 0 {
		o.PerIPRate, o.PerIPBurst = 200, 400
	}
	if o.PerAgentRate == 0 {
		// Heartbeat mode is one check-in per 5s; reports come in bursts.
		o.PerAgentRate, o.PerAgentBurst = 2, 20
	}
	if o.BodyBudget == 0 {
		// 64 MiB: 64 reports of the largest size at once, or thousands of
		// registrations, well inside the chart's 512Mi limit.
		o.BodyBudget = 64 << 20
	}
	if o.PerAddressBodyBudget == 0 {
		o.PerAddressBodyBudget = 4 << 20
	}
	if o.RegisterRate == 0 {
		o.RegisterRate, o.RegisterBurst = 1, 10
	}
	return o
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	if o.ClockSkew < 10*time.Second || o.ClockSkew > 15*time.Minute {
		return fmt.Errorf("gateway clock skew %s must be between 10s and 15m", o.ClockSkew)
	}
	if o.PerIPRate < 0 || o.PerIPBurst < 1 {
		return fmt.Errorf("gateway per-address limit %g/s, burst %d: the rate must be positive and the burst at least 1", o.PerIPRate, o.PerIPBurst)
	}
	if o.BodyBudget < protocol.MaxReportBody || o.PerAddressBodyBudget < protocol.MaxReportBody || o.PerAddressBodyBudget > o.BodyBudget {
		return fmt.Errorf("gateway body budget %d bytes, %d per address: each must hold one largest report (%d bytes), and an address's share must fit in the whole",
			o.BodyBudget, o.PerAddressBodyBudget, protocol.MaxReportBody)
	}
	if o.PeerAddress != "" {
		u, err := url.Parse(o.PeerAddress)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" {
			return fmt.Errorf("gateway peer address %q must be https://host:port", o.PeerAddress)
		}
		if errs := validation.IsDNS1123Subdomain("redflag-gateway-" + o.PeerName); o.PeerName == "" || len(errs) > 0 {
			return fmt.Errorf("gateway peer name %q must be set and usable in a Lease name: %s", o.PeerName, strings.Join(errs, "; "))
		}
	}
	if o.HeartbeatInterval < time.Second {
		return fmt.Errorf("gateway heartbeat interval %s is under 1s", o.HeartbeatInterval)
	}
	return nil
}
