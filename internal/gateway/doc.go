// Package gateway is the HTTPS server hosts talk to. It runs inside the
// manager as a controller-runtime Runnable on every replica (it needs no
// leader) and bridges hosts to the API server:
//
//   - it reads Agents and RegistrationTokens from the manager's informer
//     cache into compact in-memory indexes, so a request never lists the API;
//   - a check-in that changes nothing writes nothing: liveness is kept in
//     memory and persisted coarsely (status.lastSeen, every two intervals);
//   - writes happen only for enrollment, changed facts and agent events.
package gateway
