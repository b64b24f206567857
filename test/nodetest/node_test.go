//go:build linux

package nodetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

const marker = "redflag-node-ok"

// TestNodeRunsPodsBehindAService: the node is Ready; a pod of the pause
// image runs; a busybox web server runs behind a ClusterIP Service, and a
// second pod fetches its page through the Service's IP, which only works
// when the CNI bridge and kube-proxy's rules do.
func TestNodeRunsPodsBehindAService(t *testing.T) {
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	node, err := cs.CoreV1().Nodes().Get(ctx, cluster.nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting node %s: %v", cluster.nodeName, err)
	}
	if !conditionTrue(node.Status.Conditions, corev1.NodeReady) {
		t.Fatalf("node %s is not Ready: %+v\nkubelet log:\n%s", node.Name, node.Status.Conditions, logTail("kubelet"))
	}

	ns := "nodetest"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods are refused until the controller manager made the default
	// service account.
	if err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("no default service account in %s: %v\nkube-controller-manager log:\n%s", ns, err, logTail("kube-controller-manager"))
	}

	pause := pod("pause", cluster.pauseImage, nil, corev1.RestartPolicyAlways)
	server := pod("server", cluster.busyboxImage, []string{"/bin/busybox", "sh", "-c",
		"mkdir -p /www && echo " + marker + " > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www"},
		corev1.RestartPolicyAlways)
	server.Labels = map[string]string{"app": "server"}
	for _, p := range []*corev1.Pod{pause, server} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod %s: %v", p.Name, err)
		}
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "server"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "server"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pause", "server"} {
		waitPhase(ctx, t, cs, ns, name, corev1.PodRunning)
	}

	// The client retries: kube-proxy writes the Service's rules a moment
	// after the endpoints appear. Not wget -T: busybox 1.35's wget
	// segfaults with it; timeout bounds each try instead.
	client := pod("client", cluster.busyboxImage, []string{"/bin/busybox", "sh", "-c", fmt.Sprintf(
		"for i in $(seq 60); do /bin/busybox timeout 5 /bin/busybox wget -q -O - http://%s/ && exit 0; sleep 1; done; exit 1",
		svc.Spec.ClusterIP)}, corev1.RestartPolicyNever)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPhase(ctx, t, cs, ns, "client", corev1.PodSucceeded)
	logs, err := cs.CoreV1().Pods(ns).GetLogs("client", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("reading the client pod's log (through the kubelet): %v", err)
	}
	if !strings.Contains(string(logs), marker) {
		t.Fatalf("the client pod fetched %q through Service %s, want %q", logs, svc.Spec.ClusterIP, marker)
	}
}

func pod(name, image string, command []string, restart corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy:                 restart,
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			AutomountServiceAccountToken:  ptr.To(false),
			Containers: []corev1.Container{{
				Name:            name,
				Image:           image,
				Command:         command,
				ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
}

// waitPhase waits up to two minutes for the pod to reach phase, failing
// with the pod's status and events (and the kubelet's log) otherwise.
func waitPhase(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, phase corev1.PodPhase) {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, err
		}
		if err != nil {
			return false, nil
		}
		last = p
		if p.Status.Phase == corev1.PodFailed && phase != corev1.PodFailed {
			return false, fmt.Errorf("pod %s failed", name)
		}
		return p.Status.Phase == phase, nil
	})
	if err == nil {
		return
	}
	var b strings.Builder
	if last != nil {
		fmt.Fprintf(&b, "phase %s, conditions %+v, containers %+v\n", last.Status.Phase, last.Status.Conditions, last.Status.ContainerStatuses)
	}
	if evs, e := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name}); e == nil {
		for _, ev := range evs.Items {
			fmt.Fprintf(&b, "event %s %s: %s\n", ev.Type, ev.Reason, ev.Message)
		}
	}
	if logs, e := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(context.Background()); e == nil {
		fmt.Fprintf(&b, "log: %s\n", logs)
	}
	t.Fatalf("pod %s/%s not %s: %v\n%skubelet log:\n%s", ns, name, phase, err, b.String(), logTail("kubelet"))
}

func conditionTrue(conds []corev1.NodeCondition, typ corev1.NodeConditionType) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
