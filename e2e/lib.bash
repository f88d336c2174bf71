# Shared by the end-to-end scripts (sourced, not run): starts a real
# `gureum server` on a free loopback port with a temporary data directory,
# points the openstack CLI at it, and offers small check helpers. The server
# is always stopped and the directory removed when the script exits.
#
#   source "$(dirname "$0")/lib.bash"
#   e2e_start "$1" [extra YAML config] [readiness path]
#   check "name" openstack … ; check "it says x" contains x
#   e2e_finish "label"

# e2e_before_stop, when a script defines it, runs before the server stops
# (to delete guests, say).
e2e_cleanup() {
	if [ -n "${PID:-}" ] && kill -0 "$PID" 2>/dev/null; then
		if declare -F e2e_before_stop >/dev/null; then e2e_before_stop || true; fi
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	[ -n "${WORK:-}" ] && rm -rf "$WORK"
}

# e2e_start BIN [YAML] [PATH]: PATH is polled until the server answers
# (default /identity/v3).
e2e_start() {
	BIN=$(readlink -f "${1:?usage: $0 path/to/gureum}")
	command -v openstack >/dev/null || { echo "openstack CLI not installed (apt-get install python3-openstackclient)" >&2; exit 1; }
	WORK=$(mktemp -d)
	chmod 755 "$WORK"
	PID=""
	trap e2e_cleanup EXIT
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
	URL="http://127.0.0.1:$PORT"
	# A low bcrypt cost keeps the run short; the cost is tested elsewhere.
	printf 'identity:\n  bcrypt_cost: 4\n%s\n' "${2:-}" >"$WORK/gureum.yaml"
	"$BIN" server --config "$WORK/gureum.yaml" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
	PID=$!
	local ready=${3:-/identity/v3}
	for _ in $(seq 1 100); do
		curl -fsS "$URL$ready" >/dev/null 2>&1 && break
		kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "server exited" >&2; exit 1; }
		sleep 0.1
	done
	# Run from the scratch directory: the caller's directory may go away.
	cd "$WORK"
	export OS_CLIENT_CONFIG_FILE="$WORK/data/clouds.yaml"
	export OS_CLOUD=gureum
	unset OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_TOKEN OS_AUTH_TYPE
	PASSED=0
	FAILED=0
	LAST=""
	S=$RANDOM
}

# check NAME CMD... runs the command, recording pass or fail; its stdout is
# kept in $LAST for later checks (a `contains` check leaves it alone).
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>"$WORK/err"); then
		[ "$1" = contains ] || LAST=$out
		PASSED=$((PASSED + 1))
		echo "ok   $name"
	else
		[ "$1" = contains ] || LAST=$out
		FAILED=$((FAILED + 1))
		echo "FAIL $name: $(head -c 400 "$WORK/err")"
	fi
}

# expect_fail NAME CMD... passes when the command fails.
expect_fail() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		FAILED=$((FAILED + 1))
		echo "FAIL $name: succeeded but should have failed"
	else
		PASSED=$((PASSED + 1))
		echo "ok   $name"
	fi
}

contains() { grep -q -- "$1" <<<"$LAST" || { echo "'$1' not in: $(head -c 600 <<<"$LAST")" >&2; return 1; }; }
os() { openstack "$@"; }
val() { openstack "$@" -f value; }

# e2e_finish [LABEL]: the summary line; the exit status says whether all passed.
e2e_finish() {
	echo "${1:+$1: }$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
