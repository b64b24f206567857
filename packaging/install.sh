#!/bin/sh
# Installs or upgrades the RedFlag agent on a Linux host with systemd.
#
# The gateway serves this file at /install.sh with its URL, its CA and the
# release public key filled in (internal/installscript renders it). As root:
#
#   curl -fsS --cacert ca.crt https://GATEWAY:9443/install.sh | sh -s -- --token TOKEN
#
# Options:
#   --token TOKEN     registration token; needed unless this host is already
#                     enrolled with this gateway
#   --labels k=v,...  labels for the Agent, passed to `redflag-agent register`
#                     when this agent version takes them (at enrollment only)
#   --version V       agent release to install (default: latest)
#
# Running it again is safe: it keeps the host's identity (an agent already
# enrolled with this gateway is never registered again), backs up the config
# (agent.json.<UTC time>.bak, mode 0600), verifies the download before it
# touches anything, stops the service before it replaces the binary, and
# skips the download when the installed binary is already the release.
#
# A host running the original RedFlag agent (/usr/local/bin/redflag-agent,
# its config in /etc/redflag/config.json, /etc/redflag/agent/config.json or
# /etc/aggregator/config.json, and a redflag-agent.service that runs it) is
# taken over: its service is stopped and disabled, its config, binary, unit
# and sudoers file are copied to $REDFLAG_STATE_DIR/original-agent.<UTC
# time>/ (mode 0700, with a list of where each came from), its config is
# handed to `register`, which migrates the proxy, the metadata labels and
# the key, and once enrolled its files are removed. If enrolling fails the
# original unit is put back and started. A re-run finds nothing to take over.
#
# Every path and command can be moved with an environment variable, which
# is how the tests run it in a sandbox without systemd:
#   REDFLAG_ROOT       prefix of every default path below (default: none)
#   REDFLAG_BIN        agent binary    ($REDFLAG_ROOT/usr/bin/redflag-agent)
#   REDFLAG_CONFIG     agent config    ($REDFLAG_ROOT/etc/redflag/agent.json)
#   REDFLAG_STATE_DIR  state directory ($REDFLAG_ROOT/var/lib/redflag)
#   REDFLAG_CA_FILE    pinned gateway CA ($REDFLAG_ROOT/etc/redflag/ca.crt)
#   REDFLAG_UNIT_FILE  systemd unit
#                      ($REDFLAG_ROOT/etc/systemd/system/redflag-agent.service)
#   SYSTEMCTL          systemctl command; empty skips service management
#                      (default: systemctl when systemd is running)
#   CURL               curl command (default: curl)
#   REDFLAG_OS, REDFLAG_ARCH  release platform (default: from uname)
# The unit always runs /usr/bin/redflag-agent with the default paths:
# REDFLAG_ROOT is for tests and image builds, not for a second install.
#
# POSIX sh on purpose: `| sh` is dash on Debian and Ubuntu.
set -eu

# The gateway replaces these four lines (and only these) when it serves the
# script; the checked-in file has them empty and refuses to run.
RENDERED_GATEWAY_URL=''
RENDERED_RELEASE_KEY=''
RENDERED_CA_PEM=''
# shellcheck disable=SC2016 # the unit's comments quote commands in backticks
RENDERED_UNIT=''

SERVICE=redflag-agent.service

say() { printf 'redflag-install: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

usage() {
	cat <<'EOF'
Usage: install.sh --token TOKEN [--labels k=v,...] [--version VERSION]

Installs or upgrades the RedFlag agent and enrolls this host. --token is
needed unless the host is already enrolled with this gateway. Run as root.
EOF
}

TOKEN=
LABELS=
VERSION=latest
while [ $# -gt 0 ]; do
	case $1 in
	--token | --labels | --version)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		--token) TOKEN=$2 ;;
		--labels) LABELS=$2 ;;
		--version) VERSION=$2 ;;
		esac
		shift 2
		;;
	--token=*) TOKEN=${1#*=} && shift ;;
	--labels=*) LABELS=${1#*=} && shift ;;
	--version=*) VERSION=${1#*=} && shift ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

[ -n "$RENDERED_GATEWAY_URL" ] ||
	die "this is the unrendered template; download the script from your gateway: curl -fsS --cacert ca.crt https://GATEWAY:9443/install.sh | sh -s -- --token TOKEN"
GATEWAY=${RENDERED_GATEWAY_URL%/}

# The version goes into a URL path: letters, digits and . _ + - only.
case $VERSION in
'' | *[!A-Za-z0-9._+-]*) die "--version '$VERSION' is not a release version (such as v1.2.3 or latest)" ;;
esac

ROOT=${REDFLAG_ROOT:-}
BIN=${REDFLAG_BIN:-$ROOT/usr/bin/redflag-agent}
CONFIG=${REDFLAG_CONFIG:-$ROOT/etc/redflag/agent.json}
STATE_DIR=${REDFLAG_STATE_DIR:-$ROOT/var/lib/redflag}
CA_FILE=${REDFLAG_CA_FILE:-$ROOT/etc/redflag/ca.crt}
UNIT_FILE=${REDFLAG_UNIT_FILE:-$ROOT/etc/systemd/system/$SERVICE}
CURL=${CURL:-curl}
# SYSTEMCTL set, even to empty, wins; otherwise use systemd when it runs.
if [ -z "${SYSTEMCTL+set}" ]; then
	SYSTEMCTL=
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		SYSTEMCTL=systemctl
	fi
fi

# The agent stores the CA path in its config and runs as a service whose
# working directory is not ours: every path must be absolute.
for p in "$BIN" "$CONFIG" "$STATE_DIR" "$CA_FILE" "$UNIT_FILE"; do
	case $p in
	/*) ;;
	*) die "path '$p' is not absolute" ;;
	esac
done

if [ -z "$ROOT" ] && [ -n "${SYSTEMCTL:-}" ] &&
	{ [ "$CONFIG" != /etc/redflag/agent.json ] || [ "$STATE_DIR" != /var/lib/redflag ]; }; then
	say "warning: the unit runs the agent with /etc/redflag/agent.json and /var/lib/redflag; add --config/--state-dir with: systemctl edit redflag-agent"
fi

if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
	die "run as root: curl ... | sudo sh -s -- --token TOKEN"
fi

os=${REDFLAG_OS:-}
if [ -z "$os" ]; then
	case $(uname -s) in
	Linux) os=linux ;;
	*) die "this script installs the agent on Linux; for Windows see docs/install-agent.md" ;;
	esac
fi
arch=${REDFLAG_ARCH:-}
if [ -z "$arch" ]; then
	case $(uname -m) in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	armv6* | armv7*) arch=arm ;;
	i386 | i686) arch=386 ;;
	ppc64le) arch=ppc64le ;;
	s390x) arch=s390x ;;
	riscv64) arch=riscv64 ;;
	*) die "no agent release for machine type $(uname -m)" ;;
	esac
fi

# json_values FILE KEY prints every string value of KEY, one a line. It
# reads the manifest and the agent's own config, both flat JSON written by
# Go; splitting on , { and } puts each "key": "value" pair on its own line.
json_values() {
	# shellcheck disable=SC2020 # one newline for each of the three characters
	tr ',{}' '\n\n\n' <"$1" |
		sed -n "s/^[[:space:]]*\"$2\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\"[[:space:]]*\$/\1/p"
}

# json_first FILE KEY prints the first value of KEY: the agent writes its
# own top-level fields before any nested labels.
json_first() { json_values "$1" "$2" | sed -n 1p; }

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		set -- "$(sha256sum "$1")"
	elif command -v shasum >/dev/null 2>&1; then
		set -- "$(shasum -a 256 "$1")"
	else
		die "neither sha256sum nor shasum is installed"
	fi
	printf '%s\n' "${1%% *}"
}

# Cleanup on every exit: remove temporary files and, when the script fails
# after stopping the agent, start it again so a failed upgrade does not
# leave the host unmanaged.
work=
pending=
stopped=no
orig_stopped=no
cleanup() {
	status=$?
	[ -z "$pending" ] || rm -f "$pending"
	[ -z "$work" ] || rm -rf "$work"
	if [ "$status" -ne 0 ] && [ "$orig_stopped" = yes ]; then
		# Not enrolled: the original agent goes back to managing the host.
		say "putting the original agent's $SERVICE back after the failure"
		{ cp -p "$orig_backup/$SERVICE" "$UNIT_FILE" && "$SYSTEMCTL" daemon-reload &&
			"$SYSTEMCTL" enable "$SERVICE" && "$SYSTEMCTL" start "$SERVICE"; } ||
			say "could not restore the original agent; its files are in $orig_backup"
	elif [ "$status" -ne 0 ] && [ "$stopped" = yes ]; then
		say "starting the agent again after the failure"
		"$SYSTEMCTL" start "$SERVICE" || say "could not start $SERVICE; see: journalctl -u $SERVICE"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# put FILE MODE CONTENT writes CONTENT to FILE atomically (temporary file
# in the same directory, then rename) and sets changed=yes when it differs.
# Not fed by a pipe: the last command of a pipeline runs in a subshell, and
# changed and pending must be set in this one.
changed=no
put() {
	mkdir -p "$(dirname "$1")"
	pending=$(mktemp "$(dirname "$1")/.$(basename "$1").XXXXXX")
	printf '%s' "$3" >"$pending"
	chmod "$2" "$pending"
	if [ -f "$1" ] && cmp -s "$pending" "$1"; then
		rm -f "$pending"
	else
		mv -f "$pending" "$1"
		changed=yes
	fi
	pending=
}

# The original RedFlag agent, if this host runs it (see the top).
ORIG_BIN=$ROOT/usr/local/bin/redflag-agent
ORIG_SUDOERS=$ROOT/etc/sudoers.d/redflag-agent
orig_config=
for c in "$ROOT/etc/redflag/config.json" "$ROOT/etc/redflag/agent/config.json" "$ROOT/etc/aggregator/config.json"; do
	if [ -f "$c" ]; then
		orig_config=$c
		break
	fi
done
orig_unit=no
if [ -f "$UNIT_FILE" ] && grep -q '^ExecStart=/usr/local/bin/redflag-agent' "$UNIT_FILE"; then
	orig_unit=yes
fi
original=no
if [ -n "$orig_config" ] || [ "$orig_unit" = yes ]; then
	original=yes
	say "found the original RedFlag agent (config: ${orig_config:-none}; $SERVICE runs it: $orig_unit); it will be stopped, disabled and backed up"
fi

# What is installed already, and must we register?
if [ -f "$BIN" ] && [ -f "$CONFIG" ]; then
	say "found an installed agent ($BIN, $CONFIG)"
fi
enrolled=no
if [ -f "$CONFIG" ]; then
	server=$(json_first "$CONFIG" serverURL)
	if [ "${server%/}" = "$GATEWAY" ] &&
		[ -n "$(json_first "$CONFIG" agentName)" ] &&
		[ -n "$(json_first "$CONFIG" privateKey)" ]; then
		enrolled=yes
	fi
fi
register=no
if [ "$enrolled" = no ]; then
	[ -n "$TOKEN" ] ||
		die "--token is required: this host has no agent enrolled with $GATEWAY yet (the token is in the RegistrationToken's Secret, see docs/install-agent.md)"
	if [ -n "${server:-}" ]; then
		say "the config names another gateway ($server); registering with $GATEWAY (same key, backup kept)"
	fi
	register=yes
else
	agent=$(json_first "$CONFIG" namespace)/$(json_first "$CONFIG" agentName)
	say "already enrolled with $GATEWAY as Agent $agent; keeping that identity"
	pinned=$(json_first "$CONFIG" releasePublicKey)
	if [ -n "$RENDERED_RELEASE_KEY" ] && [ "$pinned" != "$RENDERED_RELEASE_KEY" ]; then
		if [ -n "$pinned" ]; then
			# A pinned key changes only by an explicit register --release-key:
			# a gateway must not be able to swap the key that vets releases.
			say "warning: the config pins another release key than this gateway's; keeping the pinned one"
		elif [ -n "$TOKEN" ]; then
			# Registering again returns the same Agent (same machine, same key).
			register=yes
		else
			say "warning: no release key is pinned yet; re-run with --token to pin this gateway's"
		fi
	fi
	if [ -n "$LABELS" ]; then
		say "warning: --labels applies at enrollment only; change the Agent's labels with kubectl label agent"
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/redflag-install.XXXXXX")

# fetch URL FILE downloads over https only, trusting only the gateway's CA
# when the script carries one (else the system roots).
fetch() {
	url=$1
	set -- --fail --silent --show-error --location --proto =https --proto-redir =https \
		--tlsv1.2 --retry 3 --connect-timeout 20 --max-time 900 --output "$2"
	if [ -n "$RENDERED_CA_PEM" ]; then
		set -- "$@" --cacert "$work/ca.crt"
	fi
	"$CURL" "$@" "$url" || die "download of $url failed"
}
if [ -n "$RENDERED_CA_PEM" ]; then
	printf '%s' "$RENDERED_CA_PEM" >"$work/ca.crt"
fi

release="$GATEWAY/api/v1/releases/$VERSION/$os-$arch"
fetch "$release/manifest.json" "$work/manifest.json"
manifest=$work/manifest.json
# The gateway's manifest.json is a signed envelope, {"payload": the
# manifest's JSON in base64, "signature": ...}; a bare manifest is read as
# it is. The signature is for self-updates, which the agent verifies with
# the key pinned here; this script already trusts the gateway it came from
# and checks the download against the manifest's SHA-256.
payload=$(json_values "$manifest" payload)
if [ -n "$payload" ]; then
	printf '%s' "$payload" | base64 -d >"$work/payload.json" ||
		die "the manifest at $release/manifest.json has a payload that is not base64"
	manifest=$work/payload.json
fi
want=$(json_values "$manifest" sha256 | tr 'A-F' 'a-f')
new_version=$(json_values "$manifest" version)
# Exactly one 64-digit value: two sha256 fields would join with a newline.
case $want in
*[!0-9a-f]* | '') die "the manifest at $release/manifest.json has no single sha256" ;;
esac
[ ${#want} -eq 64 ] || die "the manifest's sha256 is not 64 hex digits"
case $new_version in
'' | *[!A-Za-z0-9._+-]*) die "the manifest at $release/manifest.json has no single version" ;;
esac

replace=yes
if [ -f "$BIN" ] && [ "$(sha256 "$BIN")" = "$want" ]; then
	replace=no
	say "$BIN is already $new_version"
fi

bindir=$(dirname "$BIN")
if [ "$replace" = yes ]; then
	say "downloading redflag-agent $new_version ($os-$arch)"
	mkdir -p "$bindir"
	# In the binary's own directory, so the final mv is an atomic rename.
	pending=$(mktemp "$bindir/.redflag-agent.XXXXXX")
	fetch "$release/redflag-agent" "$pending"
	got=$(sha256 "$pending")
	[ "$got" = "$want" ] ||
		die "SHA-256 mismatch for $release/redflag-agent: got $got, manifest says $want; nothing was changed"
	chmod 0755 "$pending"
	"$pending" version >/dev/null 2>&1 ||
		die "the downloaded agent does not run on this host ($os-$arch); nothing was changed"
fi

# Created 0700 (the config holds the host's private key); a directory that
# exists is left as it is: REDFLAG_CONFIG may point into a shared one.
for d in "$(dirname "$CONFIG")" "$STATE_DIR"; do
	# shellcheck disable=SC2174 # only the deepest directory is the agent's
	[ -d "$d" ] || mkdir -p -m 0700 "$d"
done
if [ -f "$CONFIG" ]; then
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	backup=$CONFIG.$stamp.bak
	n=1
	while [ -e "$backup" ]; do
		backup=$CONFIG.$stamp.$n.bak
		n=$((n + 1))
	done
	(umask 077 && cp "$CONFIG" "$backup.tmp")
	chmod 0600 "$backup.tmp"
	mv -f "$backup.tmp" "$backup"
	say "config backed up to $backup"
fi

# Take over from the original agent: back up its files, hand its config to
# register (unless this agent has one of its own), then stop and disable
# its service before our unit replaces its unit.
orig_backup=
if [ "$original" = yes ]; then
	base=$STATE_DIR/original-agent.$(date -u +%Y%m%dT%H%M%SZ)
	orig_backup=$base
	n=1
	while [ -e "$orig_backup" ]; do
		orig_backup=$base.$n
		n=$((n + 1))
	done
	(umask 077 && mkdir "$orig_backup")
	for entry in "config.json:$orig_config" "redflag-agent:$ORIG_BIN" "sudoers:$ORIG_SUDOERS"; do
		name=${entry%%:*}
		from=${entry#*:}
		if [ -n "$from" ] && [ -f "$from" ]; then
			cp -p "$from" "$orig_backup/$name"
			printf '%s\t%s\n' "$name" "$from" >>"$orig_backup/paths"
		fi
	done
	if [ "$orig_unit" = yes ]; then
		cp -p "$UNIT_FILE" "$orig_backup/$SERVICE"
		printf '%s\t%s\n' "$SERVICE" "$UNIT_FILE" >>"$orig_backup/paths"
	fi
	say "the original agent's files are backed up in $orig_backup"
	if [ -n "$orig_config" ] && [ ! -f "$CONFIG" ]; then
		(umask 077 && cp "$orig_config" "$CONFIG.tmp")
		chmod 0600 "$CONFIG.tmp"
		mv -f "$CONFIG.tmp" "$CONFIG"
		say "registration migrates $orig_config (proxy, metadata labels, key)"
	fi
	if [ -n "$SYSTEMCTL" ] && [ "$orig_unit" = yes ]; then
		state=$("$SYSTEMCTL" is-active "$SERVICE" 2>/dev/null || true)
		case $state in
		inactive | failed | unknown | '') ;;
		*)
			say "stopping the original agent ($SERVICE)"
			"$SYSTEMCTL" stop "$SERVICE" || die "could not stop the original agent's $SERVICE"
			;;
		esac
		orig_stopped=yes
		"$SYSTEMCTL" disable "$SERVICE" || die "could not disable the original agent's $SERVICE"
	fi
fi

# Stop the agent before replacing its binary or registering (register takes
# the agent's lock): a running agent could be mid-self-update. "activating"
# counts as running: it is what a unit waiting out RestartSec reports, and it
# would start again under our feet.
if [ -n "$SYSTEMCTL" ] && { [ "$replace" = yes ] || [ "$register" = yes ]; }; then
	state=$("$SYSTEMCTL" is-active "$SERVICE" 2>/dev/null || true)
	case $state in
	active | activating | deactivating | reloading | refreshing)
		say "stopping $SERVICE"
		"$SYSTEMCTL" stop "$SERVICE" || die "could not stop $SERVICE; nothing was changed"
		stopped=yes
		;;
	esac
fi

restart=no
if [ "$replace" = yes ]; then
	mv -f "$pending" "$BIN"
	pending=
	restart=yes
	say "installed $BIN ($new_version)"
fi

if [ -n "$RENDERED_CA_PEM" ]; then
	changed=no
	put "$CA_FILE" 0644 "$RENDERED_CA_PEM"
	[ "$changed" = no ] || restart=yes
fi

changed=no
put "$UNIT_FILE" 0644 "$RENDERED_UNIT"
[ "$changed" = no ] || restart=yes
if [ -n "$SYSTEMCTL" ]; then
	"$SYSTEMCTL" daemon-reload
fi

if [ "$register" = yes ]; then
	# Feature checks keep older releases (--version) installable.
	help=$("$BIN" help 2>&1 || true)
	set -- register --config "$CONFIG" --state-dir "$STATE_DIR" --server "$GATEWAY" --token "$TOKEN"
	if [ -n "$RENDERED_CA_PEM" ]; then
		set -- "$@" --ca-file "$CA_FILE"
	fi
	if [ -n "$RENDERED_RELEASE_KEY" ]; then
		case $help in
		*--release-key*) set -- "$@" --release-key "$RENDERED_RELEASE_KEY" ;;
		*) say "warning: redflag-agent $new_version cannot pin the release key (no register --release-key)" ;;
		esac
	fi
	if [ -n "$LABELS" ]; then
		case $help in
		*--labels*) set -- "$@" --labels "$LABELS" ;;
		*) say "warning: redflag-agent $new_version takes no --labels; set them with kubectl label agent" ;;
		esac
	fi
	say "registering with $GATEWAY"
	"$BIN" "$@" || die "registration failed; the previous config (if any) is unchanged"
	restart=yes
fi

if [ "$original" = yes ]; then
	for f in "$ORIG_BIN" "$ORIG_SUDOERS" "$orig_config"; do
		[ -z "$f" ] || rm -f "$f"
	done
	orig_stopped=no
	say "the original agent is retired; its files stay in $orig_backup (see docs/install-agent.md to go back)"
fi

if [ -n "$SYSTEMCTL" ]; then
	"$SYSTEMCTL" enable "$SERVICE"
	if [ "$restart" = yes ]; then
		"$SYSTEMCTL" restart "$SERVICE"
	else
		"$SYSTEMCTL" start "$SERVICE"
	fi
	stopped=no
	say "$SERVICE is enabled and running; check it with: redflag-agent status"
else
	say "systemd is not running here: start the agent with: $BIN run"
fi
