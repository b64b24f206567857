// Package metrics defines RedFlag's own Prometheus metrics, served on the
// manager's metrics endpoint (controller-runtime's registry) beside the
// standard controller and Go runtime ones.
//
// Two kinds live here. Gateway metrics (Gateway) are counted by each
// gateway replica as it serves hosts. Fleet metrics (Fleet) describe the
// objects: they are computed at scrape time from the manager's informer
// cache, so they cost no API request and no write, and only the replica
// that runs the controllers (the leader) reports them, so a fleet is not
// counted once per replica.
//
// Cardinality is bounded on purpose: nothing is labelled by package name,
// label values a host reports (OS family, agent version) are cut to the
// most common few, and per-agent series are only the three a user alerts
// on per host. docs/operations.md lists every metric with example queries.
package metrics
