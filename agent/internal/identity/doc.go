// Package identity produces what makes this host recognisable to the
// server: a fresh Ed25519 key pair, the machine ID and the hostname.
//
// The key pair and machine ID are bound at enrollment; the server refuses
// a host that presents another machine ID, so reading it must be
// deterministic and must fail loudly rather than invent a value.
package identity
