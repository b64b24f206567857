package gateway

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// The fuzz targets check that whatever a host sends, what the gateway would
// write fits the Agent's schema, without an API server to ask: schemaErrors
// walks the generated CRD (config/crd/bases) the way the API server's
// OpenAPI validation does for the keywords RedFlag uses (lengths, counts,
// enums, patterns, ranges, required fields, date-times). The two CEL rules
// on the status are checked by hand in agentErrors.

var (
	agentSchemaOnce sync.Once
	agentSchema     *apiextensionsv1.JSONSchemaProps
	agentSchemaErr  error
	patterns        sync.Map // pattern -> *regexp.Regexp
)

func loadAgentSchema(t testing.TB) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	agentSchemaOnce.Do(func() {
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "redflag.io_agents.yaml"))
		if err != nil {
			agentSchemaErr = err
			return
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			agentSchemaErr = fmt.Errorf("parsing the Agent CRD: %w", err)
			return
		}
		agentSchema = crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	})
	if agentSchemaErr != nil {
		t.Fatal(agentSchemaErr)
	}
	return agentSchema
}

// agentErrors lists where a, as stored, breaks its CRD's schema.
func agentErrors(t testing.TB, a *redflagv1.Agent) []string {
	t.Helper()
	a = a.DeepCopy()
	a.APIVersion, a.Kind = redflagv1.GroupVersion.String(), "Agent"
	raw, err := json.Marshal(a)
	if err != nil {
		return []string{fmt.Sprintf("encoding: %v", err)}
	}
	var obj any
	if err := utiljson.Unmarshal(raw, &obj); err != nil {
		return []string{fmt.Sprintf("decoding: %v", err)}
	}
	errs := schemaErrors("", loadAgentSchema(t), obj)
	// The CEL rules on status.
	for k := range a.Status.Updates.ByManager {
		if !slices.Contains(validManagers, redflagv1.PackageManager(k)) {
			errs = append(errs, fmt.Sprintf("status.updates.byManager: key %q is not a package manager", k))
		}
	}
	for i, h := range a.Status.History {
		for k, v := range h.Metadata {
			if len(k) > 63 || len(v) > 128 {
				errs = append(errs, fmt.Sprintf("status.history[%d].metadata: %q=%q is too long", i, k, v))
			}
		}
	}
	return errs
}

// schemaErrors checks v (decoded as the API server decodes JSON) against s.
func schemaErrors(path string, s *apiextensionsv1.JSONSchemaProps, v any) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if v == nil {
		return nil // an omitted optional value
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			var want any
			if utiljson.Unmarshal(e.Raw, &want) == nil && reflect.DeepEqual(want, v) {
				found = true
			}
		}
		if !found {
			bad("%v is not one of the enum", v)
		}
	}
	switch x := v.(type) {
	case string:
		if s.Type != "string" {
			bad("a string where the schema has %s", s.Type)
		}
		if s.MaxLength != nil && int64(utf8.RuneCountInString(x)) > *s.MaxLength {
			bad("%d characters, over maxLength %d", utf8.RuneCountInString(x), *s.MaxLength)
		}
		if s.MinLength != nil && int64(utf8.RuneCountInString(x)) < *s.MinLength {
			bad("%d characters, under minLength %d", utf8.RuneCountInString(x), *s.MinLength)
		}
		if s.Pattern != "" {
			re, ok := patterns.Load(s.Pattern)
			if !ok {
				re, _ = patterns.LoadOrStore(s.Pattern, regexp.MustCompile(s.Pattern))
			}
			if !re.(*regexp.Regexp).MatchString(x) {
				bad("%q does not match %s", x, s.Pattern)
			}
		}
		if s.Format == "date-time" {
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				bad("%q is not a date-time", x)
			}
		}
	case int64:
		if s.Type != "integer" && s.Type != "number" {
			bad("a number where the schema has %s", s.Type)
		}
		if s.Minimum != nil && float64(x) < *s.Minimum {
			bad("%d is under the minimum %v", x, *s.Minimum)
		}
		if s.Maximum != nil && float64(x) > *s.Maximum {
			bad("%d is over the maximum %v", x, *s.Maximum)
		}
	case float64:
		if s.Type != "number" {
			bad("a fraction where the schema has %s", s.Type)
		}
	case bool:
		if s.Type != "boolean" {
			bad("a boolean where the schema has %s", s.Type)
		}
	case []any:
		if s.Type != "array" {
			bad("a list where the schema has %s", s.Type)
		}
		if s.MaxItems != nil && int64(len(x)) > *s.MaxItems {
			bad("%d items, over maxItems %d", len(x), *s.MaxItems)
		}
		if s.Items != nil && s.Items.Schema != nil {
			for i, item := range x {
				errs = append(errs, schemaErrors(fmt.Sprintf("%s[%d]", path, i), s.Items.Schema, item)...)
			}
		}
	case map[string]any:
		if s.Type != "object" {
			bad("an object where the schema has %s", s.Type)
		}
		if s.MaxProperties != nil && int64(len(x)) > *s.MaxProperties {
			bad("%d properties, over maxProperties %d", len(x), *s.MaxProperties)
		}
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				bad("required field %s is missing", r)
			}
		}
		for k, val := range x {
			if p, ok := s.Properties[k]; ok {
				errs = append(errs, schemaErrors(path+"."+k, &p, val)...)
			} else if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
				errs = append(errs, schemaErrors(path+"."+k, s.AdditionalProperties.Schema, val)...)
			} else if len(s.Properties) > 0 {
				bad("unknown field %s (the API server would drop it)", k)
			}
		}
	default:
		bad("unexpected %T", v)
	}
	return errs
}

// TestSchemaErrorsCatchesWhatTheAPIServerRefuses keeps the checker honest:
// each bound it claims to check, broken once, is reported.
func TestSchemaErrorsCatchesWhatTheAPIServerRefuses(t *testing.T) {
	good := func() *redflagv1.Agent {
		a := &redflagv1.Agent{Spec: redflagv1.AgentSpec{MachineID: "m-1", PublicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ="}}
		a.Name, a.Namespace = "host-1", "tenant"
		return a
	}
	if errs := agentErrors(t, good()); len(errs) != 0 {
		t.Fatalf("a valid Agent: %v", errs)
	}
	for name, breakIt := range map[string]func(*redflagv1.Agent){
		"maxLength": func(a *redflagv1.Agent) { a.Status.Hostname = string(make([]byte, 254)) },
		"pattern":   func(a *redflagv1.Agent) { a.Spec.MachineID = "-bad" },
		"enum":      func(a *redflagv1.Agent) { a.Status.Subsystems = []redflagv1.SubsystemStatus{{Name: "kernel"}} },
		"maxItems":  func(a *redflagv1.Agent) { a.Status.Storage = make([]redflagv1.MountStatus, redflagv1.MaxMounts+1) },
		"minimum": func(a *redflagv1.Agent) {
			a.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Seen",
				LastTransitionTime: metav1.Now(), ObservedGeneration: -1}}
		},
		"CEL keys": func(a *redflagv1.Agent) { a.Status.Updates.ByManager = map[string]int32{"pip": 1} },
		"rune count": func(a *redflagv1.Agent) {
			a.Status.ReboundMachineID = string([]rune{'é'}) + string(make([]rune, 128))
		},
	} {
		a := good()
		breakIt(a)
		if errs := agentErrors(t, a); len(errs) == 0 {
			t.Errorf("%s: a broken Agent passes", name)
		}
	}
}
