package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// reasonGateClosed is the Ready reason of a rollout its Prometheus gate holds.
const reasonGateClosed = "GateClosed"

// gateRecheck is how soon a closed gate is asked again.
const gateRecheck = 30 * time.Second

// maxGateResponse bounds what is read of Prometheus' answer.
const maxGateResponse = 1 << 20

// gateClosed asks the rollout's Prometheus gate. It returns "" when the
// gate is open (no gate, or the query returned nothing) and otherwise why
// it is closed: results, or an error (a gate that cannot be asked is
// closed, erring toward not starting hosts).
//
// Every Agent change in a namespace brings a pass of each of its rollouts,
// so an answer is reused for gateReuse (per rollout, URL and query): a
// busy fleet does not become a query storm on Prometheus.
func (r *AgentUpdateReconciler) gateClosed(ctx context.Context, key string, g *redflagv1.PrometheusGate, now time.Time) string {
	if g == nil {
		r.gates.forget(key)
		return ""
	}
	if verdict, ok := r.gates.get(key, *g, now); ok {
		return verdict
	}
	verdict := ""
	n, err := queryPrometheus(ctx, r.gateClient(), g.URL, g.Query)
	switch {
	case err != nil:
		verdict = fmt.Sprintf("the Prometheus gate could not be asked (no host starts until it can): %v", err)
	case n > 0:
		verdict = fmt.Sprintf("the Prometheus gate's query returned %d series; no host starts while it returns any", n)
	}
	r.gates.put(key, *g, verdict, now)
	return verdict
}

// gateReuse is how long a gate's answer stands.
const gateReuse = 10 * time.Second

// gateAnswers remembers each rollout's last gate answer; one entry per
// rollout with a gate, dropped when the rollout goes or loses its gate.
type gateAnswers struct {
	mu sync.Mutex
	m  map[string]gateAnswer
}

type gateAnswer struct {
	gate    redflagv1.PrometheusGate
	verdict string
	at      time.Time
}

func (c *gateAnswers) get(key string, g redflagv1.PrometheusGate, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[key]
	if !ok || a.gate != g || now.Sub(a.at) >= gateReuse || now.Before(a.at) {
		return "", false
	}
	return a.verdict, true
}

func (c *gateAnswers) put(key string, g redflagv1.PrometheusGate, verdict string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]gateAnswer{}
	}
	c.m[key] = gateAnswer{gate: g, verdict: verdict, at: now}
}

func (c *gateAnswers) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

func (r *AgentUpdateReconciler) gateClient() *http.Client {
	if r.HTTPClient != nil {
		return r.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// queryPrometheus runs an instant query and counts the series (or the
// scalar) it returned.
func queryPrometheus(ctx context.Context, c *http.Client, base, query string) (int, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/api/v1/query")
	if err != nil {
		return 0, fmt.Errorf("gate URL: %w", err)
	}
	u.RawQuery = url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("gate request: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("asking Prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGateResponse))
	if err != nil {
		return 0, fmt.Errorf("reading Prometheus' answer: %w", err)
	}
	var ans struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return 0, fmt.Errorf("Prometheus answered %s with no JSON it understands: %w", resp.Status, err)
	}
	if ans.Status != "success" {
		return 0, fmt.Errorf("Prometheus answered %s: %.200s", resp.Status, ans.Error)
	}
	switch ans.Data.ResultType {
	case "vector", "matrix":
		var series []json.RawMessage
		if err := json.Unmarshal(ans.Data.Result, &series); err != nil {
			return 0, fmt.Errorf("Prometheus' %s result: %w", ans.Data.ResultType, err)
		}
		return len(series), nil
	case "scalar", "string":
		return 1, nil
	}
	return 0, fmt.Errorf("Prometheus returned an unknown result type %q", ans.Data.ResultType)
}
