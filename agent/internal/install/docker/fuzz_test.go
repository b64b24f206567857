package docker

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol"
)

func pendingNamed(name string) protocol.PendingUpdate {
	return protocol.PendingUpdate{Manager: protocol.ManagerDocker, Name: name}
}

// FuzzBuildSpec feeds engine records of any shape: a replacement is
// built or refused with an error, and what is built is valid JSON.
func FuzzBuildSpec(f *testing.F) {
	f.Add([]byte(`{"Hostname":"0123456789ab","Env":["A=1"],"Cmd":["x"],"Labels":{"a":"b"}}`), []byte(`{"NetworkMode":"front","Binds":["d:/d"],"Mounts":null}`), []byte(`{"front":{"Aliases":["0123456789ab"]}}`))
	f.Add([]byte(`null`), []byte(`{"Mounts":{"x":1}}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, config, hostConfig, networks []byte) {
		c := containerJSON{ID: oldID, Config: config, HostConfig: hostConfig,
			Mounts: []mountPoint{{Type: "volume", Name: "v", Destination: "/v", RW: true}}}
		_ = json.Unmarshal(networks, &c.NetworkSettings.Networks)
		sp, err := buildSpec(c, imageCfg, nil)
		if err != nil {
			return
		}
		b, err := json.Marshal(sp.body)
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid create body %s: %v", b, err)
		}
	})
}

func FuzzReadPullStream(f *testing.F) {
	f.Add([]byte(`{"status":"Pulling from redflag/web","id":"1"}` + "\n" + `{"status":"Digest: sha256:ab"}`))
	f.Add([]byte(`{"status":"x"}{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		err := readPullStream(bytes.NewReader(in))
		if err != nil && len(err.Error()) > 400 {
			t.Fatalf("unbounded error: %d bytes", len(err.Error()))
		}
	})
}
