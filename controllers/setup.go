package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// SetupAll registers every RedFlag reconciler with the manager.
func SetupAll(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	reconcilers := map[string]interface{ SetupWithManager(ctrl.Manager) error }{
		"RegistrationToken": &RegistrationTokenReconciler{Client: c},
		"Agent":             &AgentReconciler{Client: c},
		"ScanSchedule":      &ScanScheduleReconciler{Client: c},
		"AgentUpdate":       &AgentUpdateReconciler{Client: c},
	}
	for kind, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", kind, err)
		}
	}
	return nil
}
