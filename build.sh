#!/usr/bin/env bash
# PCache build driver (Debian + .NET SDK 10). Run `./build.sh help` for the tasks.
# build.ps1 offers the same tasks to pwsh users; both run the same dotnet commands and the
# shared staging target build/Stage.proj.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$ROOT/out"
STAGE="$OUT/PCache"
CONFIG=Release
RID=linux-x64

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Tests, benchmarks and the Pester suite find the staged module and the native engine here.
export PCACHE_MODULE_DIR="$STAGE" PCACHE_BIN="$STAGE/bin/pcache"

# apt packages: the native AOT toolchain, and the NBD/block tools the tests and benchmarks
# drive (nbdfuse, nbdsh, nbdcopy and nbdinfo come with libnbd-bin on Debian 12).
BUILD_PKGS=(clang zlib1g-dev)
TOOL_PKGS=(nbdkit libnbd-bin python3-libnbd qemu-utils fio fuse3 e2fsprogs)
# A real single-host Ceph cluster for the RBD backing tests and `bench remote`, and librbd itself
# (installed without recommends: the daemons and the rbd tool are all that is needed).
CEPH_PKGS=(ceph-mon ceph-osd ceph-mgr ceph-common librbd1 librados2)

# PCACHE_ENGINE_FRAMEWORK=net10.0 builds the engine for another framework (needs its AOT pack).
PROPS=()
if [[ -n "${PCACHE_ENGINE_FRAMEWORK:-}" ]]; then
    PROPS+=("--property:PCacheEngineFramework=$PCACHE_ENGINE_FRAMEWORK")
fi

usage() {
    cat <<'EOF'
usage: ./build.sh [task] [args]

  build                 build everything (Release) and stage the module at out/PCache/ (default)
  test                  build, run every xunit project and the Pester suite (when pwsh is
                        installed); ends with one line "N passed, N failed, N skipped"
  bench [engine|nbd|remote|all] [args]
                        build and run benchmarks (default: all); args go to the one
                        benchmark named, e.g. ./build.sh bench nbd --quick
  demo [args]           build and run `out/PCache/bin/pcache demo [args]`
  clean                 remove out/ and every project's bin/ and obj/
  help                  show this text

Missing apt packages are installed when run as root; otherwise the exact apt-get line is
printed. PCACHE_ENGINE_FRAMEWORK=net10.0 builds the engine for another framework.
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '%s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# Install (as root) or name (otherwise) the apt packages that are missing.
# A leading --no-install-recommends is passed on to apt-get.
ensure_packages() {
    local apt_opts=()
    if [[ "${1:-}" == --no-install-recommends ]]; then
        apt_opts+=("$1")
        shift
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        note "note: not a Debian system; make sure these are installed: $*"
        return 0
    fi
    local p missing=()
    for p in "$@"; do
        [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)" == ii* ]] || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ "$(id -u)" != 0 ]]; then
        printf 'build.sh: missing apt packages: %s\n' "${missing[*]}" >&2
        printf 'install them with:\n  sudo apt-get update && sudo apt-get install -y %s\n' "${apt_opts[*]+${apt_opts[*]} }${missing[*]}" >&2
        exit 1
    fi
    say "apt-get install ${missing[*]}"
    mkdir -p "$OUT"
    local log="$OUT/apt.log"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_opts[@]}" "${missing[@]}"; } </dev/null >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "apt-get failed (full log: $log)"
    fi
}

check_dotnet() {
    command -v dotnet >/dev/null 2>&1 ||
        die "dotnet not found: install the .NET SDK 10 (https://learn.microsoft.com/dotnet/core/install/linux-debian)"
    local v
    v="$(dotnet --version 2>&1 || true)"
    if ! [[ "${v%%.*}" =~ ^[0-9]+$ ]] || (( ${v%%.*} < 10 )); then
        die "the .NET SDK 10 or later is needed; \`dotnet --version\` says: $v"
    fi
}

# Run a dotnet build/publish quietly: warnings and errors only, without the repeated summary.
dn() {
    local log rc=0
    log="$(mktemp)"
    dotnet "$@" -nologo -v:q -tl:off </dev/null >"$log" 2>&1 || rc=$?
    awk '/^Build (succeeded|FAILED)\.$/ { stop = 1 } !stop && NF' "$log"
    rm -f "$log"
    return "$rc"
}

task_build() {
    local t0=$SECONDS
    ensure_packages "${BUILD_PKGS[@]}"
    check_dotnet
    say "build PCache.slnx ($CONFIG)"
    dn build "$ROOT/PCache.slnx" -c "$CONFIG" "${PROPS[@]}" || die "build failed"
    say "publish engine/pcache (native AOT, $RID)"
    dn publish "$ROOT/engine/pcache/pcache.csproj" -c "$CONFIG" -r "$RID" -o "$OUT/publish/pcache" "${PROPS[@]}" ||
        die "publish of engine/pcache failed"
    dn publish "$ROOT/cmdlets/PCache/PCache.csproj" -c "$CONFIG" --no-build -o "$OUT/publish/module" ||
        die "publish of cmdlets/PCache failed"
    say "stage out/PCache"
    dotnet msbuild "$ROOT/build/Stage.proj" -t:Stage -nologo -v:m -tl:off -clp:NoSummary \
        "--property:OutRoot=$OUT/" </dev/null || die "staging failed"
    [[ "$(head -c 4 "$STAGE/bin/pcache" | od -An -c | tr -d ' \n')" == '177ELF' ]] ||
        die "$STAGE/bin/pcache is not a native ELF executable"
    note "out/PCache: $(find "$STAGE" -type f | wc -l) files staged (build took $((SECONDS - t0))s)"
}

# Adds up the TRX files under $1 (one folder per test project) into the TOTAL_* counters.
TOTAL_PASSED=0 TOTAL_FAILED=0 TOTAL_SKIPPED=0
trx_counter() { # <Counters .../> element, attribute name
    local v
    v="$(sed -n "s/.* $2=\"\([0-9]*\)\".*/\1/p" <<<"$1")"
    printf '%s' "${v:-0}"
}
count_trx() {
    local f proj counters summary p fl sk
    for f in "$1"/*/*.trx; do
        [[ -e "$f" ]] || continue
        proj="$(basename "$(dirname "$f")")"
        counters="$(grep -o '<Counters [^>]*>' "$f" | head -n 1 || true)"
        p="$(trx_counter "$counters" passed)"
        fl=$(( $(trx_counter "$counters" failed) + $(trx_counter "$counters" error) +
               $(trx_counter "$counters" timeout) + $(trx_counter "$counters" aborted) ))
        sk="$({ grep -o '<UnitTestResult [^>]*outcome="NotExecuted"' "$f" || true; } | wc -l)"
        summary="$(grep -o '<ResultSummary outcome="[A-Za-z]*"' "$f" | head -n 1 || true)"
        if ((fl == 0)) && [[ "$summary" =~ \"(Failed|Aborted|Error|Timeout)\" ]]; then
            note "  $proj: run outcome ${BASH_REMATCH[1]} without a failed test (crashed test host?); counted as 1 failure"
            fl=1
        fi
        note "  $proj: $p passed, $fl failed, $sk skipped"
        TOTAL_PASSED=$((TOTAL_PASSED + p)) TOTAL_FAILED=$((TOTAL_FAILED + fl)) TOTAL_SKIPPED=$((TOTAL_SKIPPED + sk))
    done
}

run_pester() {
    local suite="$ROOT/tests/PCache.Tests.ps1"
    if ! command -v pwsh >/dev/null 2>&1; then
        note "Pester: not run (pwsh not found on PATH)"
        return 0
    fi
    if [[ ! -f "$suite" ]]; then
        note "Pester: not run (tests/PCache.Tests.ps1 does not exist yet)"
        return 0
    fi
    say "Pester tests/PCache.Tests.ps1"
    local log="$OUT/test-results/pester.log" rc=0 line
    pwsh -NoProfile -NonInteractive -File "$ROOT/build/pester.ps1" \
        -Path "$suite" -ResultPath "$OUT/test-results/Pester/pester.xml" </dev/null 2>&1 |
        tee "$log" | { grep -v '^PCACHE-PESTER ' || true; } || rc=$?
    line="$(grep '^PCACHE-PESTER ' "$log" | tail -n 1 || true)"
    if [[ "$line" == "PCACHE-PESTER missing" ]]; then
        note "Pester: not run (Pester 5 is not installed: Install-Module Pester -MinimumVersion 5.0)"
    elif [[ "$line" =~ ^PCACHE-PESTER\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]]; then
        note "  Pester: ${BASH_REMATCH[1]} passed, ${BASH_REMATCH[2]} failed, ${BASH_REMATCH[3]} skipped"
        TOTAL_PASSED=$((TOTAL_PASSED + BASH_REMATCH[1]))
        TOTAL_FAILED=$((TOTAL_FAILED + BASH_REMATCH[2]))
        TOTAL_SKIPPED=$((TOTAL_SKIPPED + BASH_REMATCH[3]))
    else
        note "  Pester: the run ended without a result (exit $rc); counted as 1 failure"
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
}

task_test() {
    local t0=$SECONDS rc=0 results="$OUT/test-results"
    ensure_packages "${BUILD_PKGS[@]}" "${TOOL_PKGS[@]}"
    ensure_packages --no-install-recommends "${CEPH_PKGS[@]}"
    task_build
    rm -rf "$results"
    mkdir -p "$results"
    say "dotnet test PCache.slnx"
    dotnet test "$ROOT/PCache.slnx" -c "$CONFIG" --no-build --logger trx -tl:off \
        "--property:PCacheTestResults=$results" "${PROPS[@]}" </dev/null || rc=$?
    say "results"
    count_trx "$results"
    if ((rc != 0 && TOTAL_FAILED == 0)); then
        note "  dotnet test exited with code $rc without a failed test result; counted as 1 failure"
        TOTAL_FAILED=1
    fi
    run_pester
    note "tests took $((SECONDS - t0))s"
    # The closing line, alone and plain: parsed by people and by CI.
    printf '%d passed, %d failed, %d skipped\n' "$TOTAL_PASSED" "$TOTAL_FAILED" "$TOTAL_SKIPPED"
    ((TOTAL_FAILED == 0))
}

task_bench() {
    local which="${1:-all}" rc=0
    (($# > 0)) && shift
    case "$which" in
        engine | nbd | remote) ;;
        all) (($# == 0)) || die "bench all takes no arguments (arguments go to one benchmark: bench engine|nbd|remote ARGS)" ;;
        *) die "unknown benchmark '$which' (expected engine, nbd, remote or all)" ;;
    esac
    ensure_packages "${BUILD_PKGS[@]}" "${TOOL_PKGS[@]}"
    if [[ "$which" == remote || "$which" == all ]]; then ensure_packages --no-install-recommends "${CEPH_PKGS[@]}"; fi
    task_build
    if [[ "$which" == engine || "$which" == all ]]; then
        say "bench engine"
        dotnet run -c "$CONFIG" --no-build --project "$ROOT/tests/PCache.Bench" "${PROPS[@]}" -- engine "$@" </dev/null || rc=1
    fi
    if [[ "$which" == nbd || "$which" == all ]]; then
        if [[ -f "$ROOT/tests/bench/nbd.sh" ]]; then
            say "bench nbd"
            bash "$ROOT/tests/bench/nbd.sh" "$@" </dev/null || rc=1
        else
            note "bench nbd: tests/bench/nbd.sh is missing (not written yet)" >&2
            rc=1
        fi
    fi
    if [[ "$which" == remote || "$which" == all ]]; then
        say "bench remote"
        bash "$ROOT/tests/bench/remote.sh" "$@" </dev/null || rc=1
    fi
    return "$rc"
}

task_demo() {
    task_build
    exec "$PCACHE_BIN" demo "$@"
}

task_clean() {
    local proj dir
    rm -rf "$OUT"
    while IFS= read -r -d '' proj; do
        dir="$(dirname "$proj")"
        rm -rf "${dir:?}/bin" "${dir:?}/obj" "${dir:?}/TestResults"
    done < <(find "$ROOT/engine" "$ROOT/cmdlets" "$ROOT/tests" -name '*.csproj' -print0 2>/dev/null)
    note "removed out/ and every project's bin/ and obj/"
}

task="${1:-build}"
(($# > 0)) && shift
case "$task" in
    build) (($# == 0)) || die "build takes no arguments"; task_build ;;
    test) (($# == 0)) || die "test takes no arguments"; task_test ;;
    bench) task_bench "$@" ;;
    demo) task_demo "$@" ;;
    clean) task_clean ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
