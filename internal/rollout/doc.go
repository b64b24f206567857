// Package rollout holds the AgentUpdate controller's decisions as pure
// functions: which hosts a rollout targets, what each host's outcome is,
// which hosts may hold a slot now, and whether a maintenance window is
// open. Keeping them free of the API lets a property test drive them
// through random event orders and restarts (plan_property_test.go).
package rollout
