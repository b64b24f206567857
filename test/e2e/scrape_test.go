package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one read of a /metrics endpoint, parsed as Prometheus parses it.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, addr string) scrape {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scraping the manager: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping the manager: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the manager's metrics: %v", err)
	}
	return fams
}

// matches says whether m carries every label in want.
func matches(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// sum adds the samples of name carrying the labels in want (a histogram
// counts its observations); n is how many series matched.
func (s scrape) sum(name string, want map[string]string) (total float64, n int) {
	for _, m := range s[name].GetMetric() {
		if matches(m, want) {
			total += sampleValue(m)
			n++
		}
	}
	return total, n
}

// one is the value of the single series of name with exactly the labels
// in want (and maybe others); it is an error when there is not exactly one.
func (s scrape) one(name string, want map[string]string) (float64, error) {
	v, n := s.sum(name, want)
	if n != 1 {
		return 0, fmt.Errorf("%s%v: %d series, want 1", name, want, n)
	}
	return v, nil
}
