package controllers

import (
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/redflag-io/redflag/internal/events"
)

// RegistrationTokenEventSource is the reportingController of the
// RegistrationToken controller's Events.
const RegistrationTokenEventSource = "redflag.io/registrationtoken-controller"

// AgentEventSource is the reportingController of the Agent controller's Events.
const AgentEventSource = "redflag.io/agent-controller"

// ScanScheduleEventSource is the reportingController of the ScanSchedule
// controller's Events.
const ScanScheduleEventSource = "redflag.io/scanschedule-controller"

// AgentUpdateEventSource is the reportingController of the AgentUpdate
// controller's Events.
const AgentUpdateEventSource = "redflag.io/agentupdate-controller"

// Settings are the controllers' knobs that come from the manager's flags.
type Settings struct {
	// RebootBudget is how many hosts of a namespace may be in the work of
	// rollouts that reboot at once, across all of them; 0 means no budget.
	RebootBudget int
}

// SetupAll registers every RedFlag reconciler with the manager.
func SetupAll(mgr ctrl.Manager, settings Settings) error {
	c := mgr.GetClient()
	clk := clock.RealClock{}
	reconcilers := map[string]interface{ SetupWithManager(ctrl.Manager) error }{
		"RegistrationToken": &RegistrationTokenReconciler{
			Client:    c,
			APIReader: mgr.GetAPIReader(),
			// GetEventRecorder (events.k8s.io/v1) replaces the
			// deprecated GetEventRecorderFor.
			Recorder: events.NewRecorder(mgr.GetEventRecorder(RegistrationTokenEventSource), clk),
			Clock:    clk,
		},
		"Agent": &AgentReconciler{
			Client:   c,
			Recorder: events.NewRecorder(mgr.GetEventRecorder(AgentEventSource), clk),
			Clock:    clk,
		},
		"ScanSchedule": &ScanScheduleReconciler{
			Client:   c,
			Recorder: events.NewRecorder(mgr.GetEventRecorder(ScanScheduleEventSource), clk),
			Clock:    clk,
		},
		"AgentUpdate": &AgentUpdateReconciler{
			Client:       c,
			Recorder:     events.NewRecorder(mgr.GetEventRecorder(AgentUpdateEventSource), clk),
			Clock:        clk,
			RebootBudget: settings.RebootBudget,
		},
	}
	for kind, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", kind, err)
		}
	}
	return nil
}

// The manager's own needs beside the reconcilers': leader election.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
