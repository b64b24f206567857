package conditions

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// TestKstatusReadsHelpers runs kstatus itself (what Flux and `kubectl wait`
// style tools use) on a RedFlag object marked by each helper.
func TestKstatusReadsHelpers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		gen      int64 // generation of the object
		observed int64 // generation the controller marked
		mark     func(*[]metav1.Condition, int64)
		want     status.Status
	}{
		{"ready", 2, 2, func(c *[]metav1.Condition, g int64) { MarkReady(c, g, "Active", "ok") }, status.CurrentStatus},
		{"ready but stale generation", 3, 2, func(c *[]metav1.Condition, g int64) { MarkReady(c, g, "Active", "ok") }, status.InProgressStatus},
		{"not ready", 2, 2, func(c *[]metav1.Condition, g int64) { MarkNotReady(c, g, "Waiting", "wait") }, status.InProgressStatus},
		{"stalled", 2, 2, func(c *[]metav1.Condition, g int64) { MarkStalled(c, g, "Expired", "expired") }, status.FailedStatus},
		{"reconciling", 2, 2, func(c *[]metav1.Condition, g int64) { MarkReconciling(c, g, "Working", "busy") }, status.InProgressStatus},
		{"unknown", 2, 2, func(c *[]metav1.Condition, g int64) { MarkUnknown(c, g, "AgentSilent", "silent") }, status.InProgressStatus},
		{"stalled then ready", 2, 2, func(c *[]metav1.Condition, g int64) {
			MarkStalled(c, g, "Expired", "expired")
			MarkReady(c, g, "Active", "ok")
		}, status.CurrentStatus},
		{"reconciling then stalled", 2, 2, func(c *[]metav1.Condition, g int64) {
			MarkReconciling(c, g, "Working", "busy")
			MarkStalled(c, g, "Broken", "broken")
		}, status.FailedStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &redflagv1.RegistrationToken{
				TypeMeta:   metav1.TypeMeta{APIVersion: redflagv1.GroupVersion.String(), Kind: "RegistrationToken"},
				ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "ns", Generation: tc.gen},
			}
			obj.Status.ObservedGeneration = tc.observed
			tc.mark(&obj.Status.Conditions, tc.observed)
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(&unstructured.Unstructured{Object: content})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Fatalf("kstatus = %s (%s), want %s", res.Status, res.Message, tc.want)
			}
		})
	}
}
