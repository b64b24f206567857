package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/redflag-io/redflag/agent/internal/scan"
	scandocker "github.com/redflag-io/redflag/agent/internal/scan/docker"
)

// pull has the engine pull ref's tag, with the registry login of its
// domain when the docker config holds one. The engine reports a failed
// pull inside its 200 progress stream, so the stream is read to its end
// (bounded) and its error messages surface.
func (e *engine) pull(ctx context.Context, ref scandocker.Reference, creds scandocker.Credentials) error {
	header := http.Header{}
	if c, ok := creds[ref.Domain]; ok {
		auth, err := json.Marshal(map[string]string{"username": c.Username, "password": c.Password, "serveraddress": ref.Domain})
		if err != nil {
			return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
		}
		header.Set("X-Registry-Auth", base64.URLEncoding.EncodeToString(auth))
	}
	q := url.Values{"fromImage": {ref.Name()}, "tag": {ref.Tag}}
	resp, err := e.send(ctx, "POST", "/images/create", q, nil, header)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
	}
	defer resp.Body.Close()
	if err := readPullStream(resp.Body); err != nil {
		return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
	}
	return nil
}

// readPullStream reads the engine's JSON progress messages and returns
// the first error one of them carries.
func readPullStream(r io.Reader) error {
	dec := json.NewDecoder(io.LimitReader(r, maxPullStream))
	for {
		var m struct {
			Error       string
			ErrorDetail *struct{ Message string }
		}
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the pull's progress: %w", err)
		}
		if m.Error != "" {
			return errors.New(scan.Clean(m.Error, 300))
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(scan.Clean(m.ErrorDetail.Message, 300))
		}
	}
}
