package v1alpha1

// StatusCommon returns the status fields every kind shares, so code that
// treats all kinds alike (internal/reconcile) can set conditions, history
// and observedGeneration without knowing the kind.
func (t *RegistrationToken) StatusCommon() *CommonStatus { return &t.Status.CommonStatus }

// StatusCommon returns the status fields every kind shares.
func (a *Agent) StatusCommon() *CommonStatus { return &a.Status.CommonStatus }

// StatusCommon returns the status fields every kind shares.
func (s *ScanSchedule) StatusCommon() *CommonStatus { return &s.Status.CommonStatus }

// StatusCommon returns the status fields every kind shares.
func (u *AgentUpdate) StatusCommon() *CommonStatus { return &u.Status.CommonStatus }
