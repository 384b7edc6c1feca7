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
TOOL_PKGS=(nbdkit libnbd-bin python3-libnbd qemu-utils fio fuse3 e2fsprogs ansible-core)
# A real single-host Ceph cluster for the RBD backing tests and `bench remote`, and librbd itself
# (installed without recommends: the daemons and the rbd tool are all that is needed).
CEPH_PKGS=(ceph-mon ceph-osd ceph-mgr ceph-common librbd1 librados2)
# Prometheus' promtool lints the daemon's metrics endpoint in the tests, curl scrapes it (without recommends: no node exporter).
METRICS_PKGS=(prometheus curl)

usage() {
    cat <<'EOF'
usage: ./build.sh [task] [args]

  build                 build everything (Release) and stage the module at out/PCache/ (default)
  test                  build, run every xunit project and the Pester suite (pwsh 7.6.9 from
                        .config/dotnet-tools.json, Pester from NuGet: 5.7.1, or
                        $PCACHE_PESTER_VERSION); ends with one line "N passed, N failed, N skipped"
  pester [version]      build and run only the Pester suite (e.g. ./build.sh pester 6.2.0)
  package               build and write out/packages/PCache.<version>.nupkg (Install-PSResource)
  bench [engine|nbd|remote|all] [args]
                        build and run benchmarks (default: all); args go to the one
                        benchmark named, e.g. ./build.sh bench nbd --quick
  demo [args]           build and run `out/PCache/bin/pcache demo [args]`
  mutants [name...]     apply each persistence mutant of tests/mutants/mutants.txt to a scratch
                        copy (out/mutants/src), run the power-loss, backing-consistency and
                        corrupt-media suites on it and print which suites kill it; fails if one
                        survives (not part of `test`; takes several minutes)
  clean                 remove out/ and every project's bin/ and obj/
  help                  show this text

Missing apt packages are installed when run as root; otherwise the exact apt-get line is
printed.
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
    dn build "$ROOT/PCache.slnx" -c "$CONFIG" || die "build failed"
    say "publish engine/pcache (native AOT, $RID)"
    dn publish "$ROOT/engine/pcache/pcache.csproj" -c "$CONFIG" -r "$RID" -o "$OUT/publish/pcache" ||
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

# pwsh comes from the local tool manifest (.config/dotnet-tools.json, PowerShell 7.6.9) and runs
# as `dotnet pwsh`; out/tools/bin/pwsh is a shim so that tests can run `pwsh` by name, as the
# README's cron line does.
PESTER_VERSION="${PCACHE_PESTER_VERSION:-5.7.1}"
TOOLS="$OUT/tools"
ensure_pwsh() {
    local home log="$OUT/tools/restore.log"
    mkdir -p "$TOOLS"
    say "dotnet tool restore (PowerShell, pinned in .config/dotnet-tools.json)"
    if ! (cd "$ROOT" && dotnet tool restore) </dev/null >"$log" 2>&1; then
        cat "$log" >&2
        note "dotnet tool restore failed: pwsh is needed for the Pester suite" >&2
        return 1
    fi
    home="$(cd "$ROOT" && dotnet pwsh -NoProfile -NonInteractive -Command '$PSHOME' </dev/null)" || {
        note "dotnet pwsh does not start" >&2
        return 1
    }
    [[ -f "$home/pwsh.dll" ]] || { note "pwsh.dll not found under $home" >&2; return 1; }
    mkdir -p "$TOOLS/bin"
    printf '#!/bin/sh\nexec dotnet "%s/pwsh.dll" "$@"\n' "$home" >"$TOOLS/bin/pwsh"
    chmod 0755 "$TOOLS/bin/pwsh"
}

# Pester $1 from NuGet, laid out as out/tools/modules/Pester/<version>/ (the package's tools/).
ensure_pester() {
    local v="$1" pkgs dest="$TOOLS/modules/Pester/$1"
    [[ -f "$dest/Pester.psd1" ]] && return 0
    say "restore Pester $v from NuGet"
    dn restore "$ROOT/build/tools/PesterRestore.csproj" "--property:PesterVersion=$v" || {
        note "could not restore Pester $v from NuGet" >&2
        return 1
    }
    pkgs="$(dotnet nuget locals global-packages --list </dev/null | sed -n 's/^global-packages: //p')"
    [[ -f "$pkgs/pester/$v/tools/Pester.psd1" ]] || {
        note "Pester $v: $pkgs/pester/$v/tools/Pester.psd1 not found after restore" >&2
        return 1
    }
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -R "$pkgs/pester/$v/tools/." "$dest/"
}

run_pester() { # [version]
    local v="${1:-$PESTER_VERSION}" suite="$ROOT/tests/PCache.Tests.ps1"
    if [[ ! -f "$suite" ]] || ! ensure_pwsh || ! ensure_pester "$v"; then
        note "  Pester $v: not runnable (see above); counted as 1 failure"
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
        return 0
    fi
    say "Pester $v: tests/PCache.Tests.ps1"
    mkdir -p "$OUT/test-results/Pester-$v"
    local log="$OUT/test-results/Pester-$v/pester.log" rc=0 line
    PATH="$TOOLS/bin:$PATH" PSModulePath="$TOOLS/modules" PCACHE_PESTER_VERSION="$v" \
        pwsh -NoProfile -NonInteractive -File "$ROOT/build/pester.ps1" -Version "$v" \
        -Path "$suite" -ResultPath "$OUT/test-results/Pester-$v/pester.xml" </dev/null 2>&1 |
        tee "$log" | { grep -v '^PCACHE-PESTER ' || true; } || rc=$?
    line="$(grep '^PCACHE-PESTER ' "$log" | tail -n 1 || true)"
    if [[ "$line" =~ ^PCACHE-PESTER\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]]; then
        note "  Pester $v: ${BASH_REMATCH[1]} passed, ${BASH_REMATCH[2]} failed, ${BASH_REMATCH[3]} skipped"
        TOTAL_PASSED=$((TOTAL_PASSED + BASH_REMATCH[1]))
        TOTAL_FAILED=$((TOTAL_FAILED + BASH_REMATCH[2]))
        TOTAL_SKIPPED=$((TOTAL_SKIPPED + BASH_REMATCH[3]))
    else
        note "  Pester $v: the run ended without a result (${line:-no PCACHE-PESTER line}, exit $rc); counted as 1 failure"
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
}

task_test() {
    local t0=$SECONDS rc=0 results="$OUT/test-results"
    ensure_packages "${BUILD_PKGS[@]}" "${TOOL_PKGS[@]}"
    ensure_packages --no-install-recommends "${CEPH_PKGS[@]}"
    ensure_packages --no-install-recommends "${METRICS_PKGS[@]}"
    task_build
    rm -rf "$results"
    mkdir -p "$results"
    say "dotnet test PCache.slnx"
    dotnet test "$ROOT/PCache.slnx" -c "$CONFIG" --no-build --logger trx -tl:off \
        "--property:PCacheTestResults=$results" </dev/null || rc=$?
    say "results"
    count_trx "$results"
    if ((rc != 0 && TOTAL_FAILED == 0)); then
        note "  dotnet test exited with code $rc without a failed test result; counted as 1 failure"
        TOTAL_FAILED=1
    fi
    # The Pester suite installs the package the way the README says.
    if ! (task_package_only); then
        note "  package: failed; counted as 1 failure"
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
    run_pester
    note "tests took $((SECONDS - t0))s"
    # The closing line, alone and plain: parsed by people and by CI.
    printf '%d passed, %d failed, %d skipped\n' "$TOTAL_PASSED" "$TOTAL_FAILED" "$TOTAL_SKIPPED"
    ((TOTAL_FAILED == 0))
}

# out/packages/PCache.<version>.nupkg from the staged module, packed by PSResourceGet (it ships with
# pwsh): what Register-PSResourceRepository + Install-PSResource install from (see the README).
task_package_only() {
    ensure_pwsh || die "pwsh is needed to pack the module"
    local dest="$OUT/packages"
    say "package out/PCache -> out/packages"
    mkdir -p "$dest"
    rm -f "$dest"/PCache.*.nupkg
    PATH="$TOOLS/bin:$PATH" PCACHE_PACK_FROM="$STAGE" PCACHE_PACK_TO="$dest" pwsh -NoProfile -NonInteractive -Command \
        '$ErrorActionPreference = "Stop"; Compress-PSResource -Path $env:PCACHE_PACK_FROM -DestinationPath $env:PCACHE_PACK_TO' </dev/null ||
        die "Compress-PSResource failed"
    local pkg
    pkg="$(ls "$dest"/PCache.*.nupkg 2>/dev/null | head -n 1)"
    [[ -n "$pkg" ]] || die "no PCache.*.nupkg was written to $dest"
    note "${pkg#"$ROOT/"}"
}

task_package() {
    task_build
    task_package_only
}

# Only the Pester suite, on the Pester version given (default $PCACHE_PESTER_VERSION or 5.7.1).
task_pester() {
    local t0=$SECONDS
    ensure_packages "${BUILD_PKGS[@]}" "${TOOL_PKGS[@]}"
    task_build
    task_package_only
    run_pester "${1:-$PESTER_VERSION}"
    note "tests took $((SECONDS - t0))s"
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
        dotnet run -c "$CONFIG" --no-build --project "$ROOT/tests/PCache.Bench" -- engine "$@" </dev/null || rc=1
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

# Persistence mutants (tests/mutants/mutants.txt), one at a time, in a scratch copy of the tree;
# each must make the crash suites fail. The suites run in Release, the configuration CI uses,
# with the same seeds and amounts as `./build.sh test`; a suite stops at its first failure.
MUTANT_SUITES=(PowerLossTests BackingConsistencyTests CorruptMediaTests)
MUTANT_TIMEOUT=900

# One suite on the scratch build, stopped at its first failed test (a kill needs no more);
# writes killed, passed, timeout or error to <logs>/<suite>.result.
mutant_suite() { # scratch dir, log dir, suite class
    local src="$1" logs="$2" suite="$3" log="$2/$3.log" pid rc=0 waited=0 result
    setsid dotnet test "$src/tests/PCache.Engine.Tests/PCache.Engine.Tests.csproj" -c "$CONFIG" --no-build \
        --filter "FullyQualifiedName~PCache.Engine.Tests.$suite." --logger "console;verbosity=normal" \
        --logger "trx;LogFileName=$suite.trx" --results-directory "$logs/trx" -tl:off \
        </dev/null >"$log" 2>&1 &
    pid=$!
    result=""
    while kill -0 "$pid" 2>/dev/null; do
        if grep -qE '^[[:space:]]*Failed PCache\.' "$log"; then
            result=killed
            break
        fi
        if ((waited >= MUTANT_TIMEOUT)); then
            result=timeout
            break
        fi
        sleep 2
        waited=$((waited + 2))
    done
    if [[ -n "$result" ]]; then
        kill -- -"$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    else
        wait "$pid" || rc=$?
        if grep -qE '^[[:space:]]*Failed PCache\.' "$log"; then result=killed
        elif ((rc == 0)) && grep -qE '^[[:space:]]*Passed PCache\.' "$log"; then result=passed
        else result=error
        fi
    fi
    printf '%s' "$result" >"$logs/$suite.result"
}

# Build the engine tests in the scratch tree and run the suites side by side; prints the suites
# that failed (a timeout counts: CI would hang), "build-failed" or "error:<suite>", empty when all passed.
mutant_run() { # scratch dir, log dir
    local src="$1" logs="$2" s r out=""
    mkdir -p "$logs"
    if ! dn build "$src/tests/PCache.Engine.Tests/PCache.Engine.Tests.csproj" -c "$CONFIG" >"$logs/build.log" 2>&1; then
        printf 'build-failed'
        return 0
    fi
    for s in "${MUTANT_SUITES[@]}"; do mutant_suite "$src" "$logs" "$s" & done
    wait
    for s in "${MUTANT_SUITES[@]}"; do
        r="$(cat "$logs/$s.result" 2>/dev/null || echo error)"
        case "$r" in
            passed) ;;
            killed) out+="${out:+ }$s" ;;
            timeout) out+="${out:+ }$s(hang)" ;;
            *) out+="${out:+ }error:$s" ;;
        esac
    done
    printf '%s' "$out"
}

task_mutants() {
    local t0=$SECONDS list="$ROOT/tests/mutants/mutants.txt" tool="$ROOT/tests/mutants/mutants.py"
    local dir="$OUT/mutants" src="$OUT/mutants/src" name what killers verdict survivors=0 rows=() f
    check_dotnet
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to apply the mutants (apt-get install python3)"
    python3 "$tool" check "$list" "$ROOT" || die "the mutant list no longer applies to the sources (see above)"
    say "scratch copy at out/mutants/src"
    rm -rf "$dir"
    mkdir -p "$src"
    tar -C "$ROOT" --exclude=./out --exclude=./.git --exclude='*/bin' --exclude='*/obj' --exclude='*/TestResults' -cf - . |
        tar -C "$src" -xf -
    mapfile -t names < <(python3 "$tool" list "$list" | cut -f1)
    if (($# > 0)); then # only the mutants named (the sanity row always runs)
        for name in "$@"; do printf '%s\n' "${names[@]}" | grep -qx -- "$name" || die "no mutant named $name"; done
        names=("$@")
    fi
    # Files any mutant edits: put back from the real tree before each mutant.
    mapfile -t edited < <(sed -n 's/^file //p' "$list" | sort -u)

    say "sanity: the unmutated copy passes ${MUTANT_SUITES[*]}"
    killers="$(mutant_run "$src" "$dir/unmutated")"
    rows+=("unmutated|no change (sanity check)|${killers:-none}|$([[ -z "$killers" ]] && echo passed || echo FAILED)")
    [[ -z "$killers" ]] || die "the unmutated copy fails ($killers); logs in $dir/unmutated"

    for name in "${names[@]}"; do
        for f in "${edited[@]}"; do cp "$ROOT/$f" "$src/$f"; done
        what="$(python3 "$tool" list "$list" | awk -F'\t' -v n="$name" '$1 == n { print $2 }')"
        say "mutant $name: $what"
        python3 "$tool" apply "$list" "$name" "$src" || die "mutant $name does not apply"
        killers="$(mutant_run "$src" "$dir/$name")"
        if [[ -z "$killers" ]]; then
            verdict=SURVIVED
            survivors=$((survivors + 1))
        elif [[ "$killers" == build-failed || "$killers" == *error:* ]]; then
            verdict="INVALID ($killers)"
            survivors=$((survivors + 1))
        else
            verdict=killed
        fi
        note "  -> ${killers:-none}: $verdict"
        rows+=("$name|$what|${killers:-none}|$verdict")
    done
    for f in "${edited[@]}"; do cp "$ROOT/$f" "$src/$f"; done

    say "mutants (logs in out/mutants/<name>/)"
    {
        printf 'mutant|description|killed by|verdict\n'
        printf -- '---|---|---|---\n'
        printf '%s\n' "${rows[@]}"
    } | column -t -s '|'
    note "mutants took $((SECONDS - t0))s"
    ((survivors == 0)) || die "$survivors mutant(s) survived or did not build"
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
    done < <(find "$ROOT/engine" "$ROOT/cmdlets" "$ROOT/tests" "$ROOT/build" -name '*.csproj' -print0 2>/dev/null)
    note "removed out/ and every project's bin/ and obj/"
}

task="${1:-build}"
(($# > 0)) && shift
case "$task" in
    build) (($# == 0)) || die "build takes no arguments"; task_build ;;
    test) (($# == 0)) || die "test takes no arguments"; task_test ;;
    package) (($# == 0)) || die "package takes no arguments"; task_package ;;
    pester) (($# <= 1)) || die "pester takes at most one argument (a Pester version)"; task_pester "$@" ;;
    bench) task_bench "$@" ;;
    demo) task_demo "$@" ;;
    mutants) task_mutants "$@" ;;
    clean) task_clean ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
