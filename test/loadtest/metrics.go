package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// requestCounts are the API server's apiserver_request_total counters, keyed
// "VERB resource" (subresources as resource/sub), for RedFlag's kinds and
// the built-in kinds it touches.
type requestCounts map[string]float64

// scrapeRequests reads the API server's own request counters.
func scrapeRequests(ctx context.Context, cfg *rest.Config) (requestCounts, error) {
	rc, err := rest.UnversionedRESTClientFor(restConfigForMetrics(cfg))
	if err != nil {
		return nil, fmt.Errorf("metrics client: %w", err)
	}
	body, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading API server metrics: %w", err)
	}
	out := requestCounts{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, "apiserver_request_total{"), "} ")
		if !ok {
			continue
		}
		l := parseLabels(labels)
		res := l["resource"]
		if l["subresource"] != "" {
			res += "/" + l["subresource"]
		}
		if !interesting[strings.SplitN(res, "/", 2)[0]] {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		out[l["verb"]+" "+res] += v
	}
	return out, sc.Err()
}

var interesting = map[string]bool{
	"agents": true, "registrationtokens": true, "scanschedules": true, "agentupdates": true,
	"events": true, "secrets": true, "leases": true,
}

func restConfigForMetrics(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = nil
	c.APIPath = "/"
	c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return c
}

func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// writes is the count of mutating requests (not GET, LIST or WATCH).
func (r requestCounts) writes() float64 {
	var n float64
	for k, v := range r {
		if isWrite(k) {
			n += v
		}
	}
	return n
}

// onlyWrites keeps the mutating requests.
func (r requestCounts) onlyWrites() requestCounts {
	out := requestCounts{}
	for k, v := range r {
		if isWrite(k) {
			out[k] = v
		}
	}
	return out
}

// isWrite says whether a "VERB resource" key is a mutating request.
func isWrite(key string) bool {
	verb, _, _ := strings.Cut(key, " ")
	return verb != "GET" && verb != "LIST" && verb != "WATCH"
}

// withoutLeases drops Lease requests: leader election and the gateway's
// membership renew them on a clock, whatever the load.
func (r requestCounts) withoutLeases() requestCounts {
	out := requestCounts{}
	for k, v := range r {
		if _, res, _ := strings.Cut(k, " "); res != "leases" {
			out[k] = v
		}
	}
	return out
}

func (r requestCounts) minus(before requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range r {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// rssMiB reads a process's resident memory.
func rssMiB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
