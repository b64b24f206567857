package v1alpha1_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// TestPrinterColumns asks the API server for tables, as `kubectl get` does,
// and checks the columns that answer a user's first question.
func TestPrinterColumns(t *testing.T) {
	want := map[string][]string{
		"registrationtokens": {"Name", "Phase", "Used", "Max", "Expires", "Age"},
		"agents":             {"Name", "Ready", "Version", "OS", "Updates", "Last Seen", "Age"},
		"scanschedules":      {"Name", "Ready", "Matched", "Due", "Overdue", "Age"},
		"agentupdates":       {"Name", "Phase", "Total", "Done", "Failed", "Working", "Last Run", "Next Run", "Age"},
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.GroupVersion = &metav1.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for resource, columns := range want {
		t.Run(resource, func(t *testing.T) {
			body, err := rc.Get().AbsPath("/apis/redflag.io/v1alpha1/namespaces/default", resource).
				SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
				DoRaw(context.Background())
			if err != nil {
				t.Fatalf("listing %s as a table: %v", resource, err)
			}
			var table metav1.Table
			if err := json.Unmarshal(body, &table); err != nil {
				t.Fatalf("decoding table: %v", err)
			}
			var got []string
			for _, c := range table.ColumnDefinitions {
				if c.Priority == 0 {
					got = append(got, c.Name)
				}
			}
			if !slices.Equal(got, columns) {
				t.Errorf("kubectl get %s shows columns %v, want %v", resource, got, columns)
			}
		})
	}
}

// TestShortNamesAndCategory checks discovery: every kind is namespaced, has
// a status subresource and a short name, and `kubectl get redflag` lists all
// four.
func TestShortNamesAndCategory(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion("redflag.io/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		served[r.Name] = r
	}
	for _, name := range []string{"registrationtokens", "agents", "scanschedules", "agentupdates"} {
		r, ok := served[name]
		if !ok {
			t.Errorf("resource %s is not served", name)
			continue
		}
		if !r.Namespaced {
			t.Errorf("%s is cluster-scoped; every RedFlag kind is namespaced", name)
		}
		if !slices.Contains(r.Categories, "redflag") {
			t.Errorf("%s is not in the redflag category: %v", name, r.Categories)
		}
		if len(r.ShortNames) == 0 {
			t.Errorf("%s has no short name", name)
		}
		if _, ok := served[name+"/status"]; !ok {
			t.Errorf("%s has no status subresource", name)
		}
	}
}
