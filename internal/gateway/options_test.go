package gateway

import (
	"strings"
	"testing"
)

// TestOptionsRefuseWhatCannotWork: flags that would make the gateway refuse
// every host, or announce an address peers cannot use, stop it at start
// with the flag's value in the message.
func TestOptionsRefuseWhatCannotWork(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		want string
	}{
		"zero burst":             {Options{PerIPRate: 10, PerIPBurst: 0}, "burst 0"},
		"negative rate":          {Options{PerIPRate: -1, PerIPBurst: 5}, "-1/s"},
		"peer address with path": {Options{PeerAddress: "https://10.0.0.1:9443/x", PeerName: "gw-0"}, "https://host:port"},
		"peer over plain http":   {Options{PeerAddress: "http://10.0.0.1:9443", PeerName: "gw-0"}, "https://host:port"},
		"peer without a name":    {Options{PeerAddress: "https://10.0.0.1:9443"}, "peer name"},
		"peer name not a name":   {Options{PeerAddress: "https://10.0.0.1:9443", PeerName: "GW_0"}, "peer name"},
	} {
		err := tc.opts.Defaults().Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}
	// A bare pod IP (what the chart passes) becomes a URL with the bind port.
	for ip, want := range map[string]string{"10.1.2.3": "https://10.1.2.3:9443", "fd00::7": "https://[fd00::7]:9443"} {
		o := Options{PeerAddress: ip, PeerName: "gw-0"}.Defaults()
		if o.PeerAddress != want || o.Validate() != nil {
			t.Errorf("peer address %s became %s (%v), want %s", ip, o.PeerAddress, o.Validate(), want)
		}
	}
	if err := (Options{}).Defaults().Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}
