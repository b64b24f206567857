package loadtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

// simAgent is one simulated host.
type simAgent struct {
	hostname  string
	machineID string
	key       ed25519.PrivateKey
	pub       string
	client    *hostclient.Client
	id        hostclient.Identity
	// workKey verifies the manager's signed answers, as the agent does
	// before it acts on one (from the registration answer).
	workKey ed25519.PublicKey
}

// fleetNet is where the simulated hosts connect from and to.
type fleetNet struct {
	gatewayURL string
	caPEM      []byte
	// serverName is the name the gateway's certificate is checked for,
	// when the URL's host is an address the certificate does not carry (a
	// pod's IP); empty means the URL's host.
	serverName string
	// sources are the client addresses the fleet spreads over; each must
	// be an address of this machine.
	sources []net.IP
}

// loopbackNet is the gateway at gatewayURL reached from n addresses
// 127.0.x.y, as the testbed's manager on this machine is.
func loopbackNet(gatewayURL string, caPEM []byte, n int) fleetNet {
	return fleetNet{gatewayURL: gatewayURL, caPEM: caPEM, sources: loopbackSources(0, max(n, 1))}
}

// loopbackSources are n simulated source addresses 127.0.x.y from the
// first-th on.
func loopbackSources(first, n int) []net.IP {
	ips := make([]net.IP, n)
	for i := range ips {
		j := first + i
		ips[i] = net.IPv4(127, 0, byte(1+j/250), byte(2+j%250))
	}
	return ips
}

// newFleet makes n agents spread over fn's source addresses, each address
// with its own HTTP client and connections, as hosts behind different
// addresses would be.
func newFleet(n int, fn fleetNet) ([]*simAgent, error) {
	clients := make([]*hostclient.Client, len(fn.sources))
	for i := range clients {
		c, err := hostclient.New(fn.gatewayURL, fn.caPEM)
		if err != nil {
			return nil, err
		}
		tr := c.HTTP.Transport.(*http.Transport)
		tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: fn.sources[i]}, Timeout: 10 * time.Second}).DialContext
		tr.MaxIdleConnsPerHost = 64
		tr.MaxConnsPerHost = 64
		if fn.serverName != "" {
			tr.TLSClientConfig.ServerName = fn.serverName
		}
		clients[i] = c
	}
	fleet := make([]*simAgent, n)
	for i := range fleet {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating agent key: %w", err)
		}
		mid := make([]byte, 16)
		_, _ = rand.Read(mid)
		fleet[i] = &simAgent{
			hostname: fmt.Sprintf("load-%05d", i), machineID: hex.EncodeToString(mid), key: priv,
			pub: base64.StdEncoding.EncodeToString(pub), client: clients[i%len(clients)],
		}
	}
	return fleet, nil
}

func (a *simAgent) register(ctx context.Context, token string) error {
	resp, err := a.client.Register(ctx, protocol.RegisterRequest{
		Token: token, MachineID: a.machineID, Hostname: a.hostname, AgentVersion: "v0.1.0", PublicKey: a.pub,
		OS: protocol.OSInfo{Family: "linux", Distribution: "debian", Version: "12", Arch: "amd64", Kernel: "6.1.0-28-amd64"},
	})
	if err != nil {
		return err
	}
	key, err := base64.StdEncoding.DecodeString(resp.WorkPublicKey)
	if err != nil {
		return fmt.Errorf("registration answer: work public key: %w", err)
	}
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("registration answer: work public key is %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	a.workKey = key
	a.id = hostclient.Identity{Agent: resp.Namespace + "/" + resp.AgentName, MachineID: a.machineID, Key: a.key}
	return nil
}

// checkIn is one steady-state check-in: nothing new to say.
func (a *simAgent) checkIn(ctx context.Context) error {
	_, err := a.client.CheckIn(ctx, a.id, protocol.CheckInRequest{AgentVersion: "v0.1.0", FactsHash: "steady"})
	return err
}
