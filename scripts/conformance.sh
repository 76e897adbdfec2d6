#!/usr/bin/env bash
# Run the illumos mdb conformance suite (target-independent tests) against
# bin/mdb.  The suite lives in shared/, the sibling of the repository root;
# it is never copied into the repository.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite="$(dirname "$root")/shared/conformance/illumos-mdb"
if [[ ! -x "$suite/run.sh" && ! -f "$suite/run.sh" ]]; then
	# The suite is illumos' and is not shipped with kmemdb: a fresh clone
	# without shared/ beside it skips it, saying so; CI sets
	# KMEMDB_REQUIRE_CONFORMANCE=1 so that a missing suite fails there.
	if [[ "${KMEMDB_REQUIRE_CONFORMANCE:-}" == 1 ]]; then
		echo "conformance: suite not found at $suite (expected shared/ beside the repository root)" >&2
		exit 1
	fi
	echo "conformance: SKIPPED: the illumos mdb suite is not at $suite (it lives in shared/ beside the repository root; it is not part of kmemdb)"
	exit 0
fi
if [[ ! -f "$root/dist/src/cli/mdb.js" ]]; then
	echo "conformance: $root/dist/src/cli/mdb.js is missing; run 'npm run build' first" >&2
	exit 1
fi
cd "$root" || exit 1
exec bash "$suite/run.sh" "$@" "node $root/bin/mdb"
