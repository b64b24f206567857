package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Set adds or updates c in conds. It stamps ObservedGeneration with gen and
// cuts the message to MaxConditionMessage bytes (metav1.Condition allows
// 32 KiB, which would eat the object's size budget). LastTransitionTime
// changes only when the status does, as meta.SetStatusCondition keeps it.
// It reports whether anything changed.
func Set(conds *[]metav1.Condition, gen int64, c metav1.Condition) bool {
	c.ObservedGeneration = gen
	c.Message = Truncate(c.Message, redflagv1.MaxConditionMessage)
	return meta.SetStatusCondition(conds, c)
}

// Remove deletes the condition of type t; it reports whether one was there.
func Remove(conds *[]metav1.Condition, t string) bool {
	return meta.RemoveStatusCondition(conds, t)
}

// MarkReady sets Ready=True and removes Reconciling and Stalled: the object
// is what its spec asks for (kstatus Current).
func MarkReady(conds *[]metav1.Condition, gen int64, reason, msg string) bool {
	changed := set(conds, gen, redflagv1.ConditionReady, metav1.ConditionTrue, reason, msg)
	changed = Remove(conds, redflagv1.ConditionReconciling) || changed
	return Remove(conds, redflagv1.ConditionStalled) || changed
}

// MarkNotReady sets Ready=False and removes Stalled: the object is not
// usable yet but nothing is stuck (kstatus InProgress). Use MarkStalled when
// only a change to the spec or the world can move it on.
func MarkNotReady(conds *[]metav1.Condition, gen int64, reason, msg string) bool {
	changed := set(conds, gen, redflagv1.ConditionReady, metav1.ConditionFalse, reason, msg)
	return Remove(conds, redflagv1.ConditionStalled) || changed
}

// MarkStalled sets Ready=False and Stalled=True with the same reason and
// message, and removes Reconciling: the controller cannot make progress
// (kstatus Failed), so tools report it at once instead of waiting out a
// timeout.
func MarkStalled(conds *[]metav1.Condition, gen int64, reason, msg string) bool {
	changed := set(conds, gen, redflagv1.ConditionReady, metav1.ConditionFalse, reason, msg)
	changed = set(conds, gen, redflagv1.ConditionStalled, metav1.ConditionTrue, reason, msg) || changed
	return Remove(conds, redflagv1.ConditionReconciling) || changed
}

// MarkReconciling sets Reconciling=True and removes Stalled: work is under
// way (kstatus InProgress). Ready is left alone, because an object may stay
// usable while it changes (an Agent installing updates is still Ready).
func MarkReconciling(conds *[]metav1.Condition, gen int64, reason, msg string) bool {
	changed := set(conds, gen, redflagv1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
	return Remove(conds, redflagv1.ConditionStalled) || changed
}

// MarkUnknown sets Ready=Unknown: the controller cannot tell, for example an
// Agent that stopped checking in (kstatus InProgress).
func MarkUnknown(conds *[]metav1.Condition, gen int64, reason, msg string) bool {
	return set(conds, gen, redflagv1.ConditionReady, metav1.ConditionUnknown, reason, msg)
}

func set(conds *[]metav1.Condition, gen int64, t string, s metav1.ConditionStatus, reason, msg string) bool {
	return Set(conds, gen, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg})
}
