#!/usr/bin/env bash
# gpu_check.sh [OUTDIR]: the one command that proves numrnn's GPU backend on a GPU machine.
#
# Runs in the repository root with the machine's own python3 (PYTHON=... to change it),
# PYTHONPATH set to this checkout: no virtual environment, no network, no install. Stages,
# each with its own time limit, each writing into OUTDIR (default runs/gpu_check):
#
#   env        nvidia-smi, nvcc, compute-sanitizer, package versions, where NVVM,
#              NVRTC and libcudadevrt are                                  -> env.txt
#   probe      Numba-CUDA + CuPy: the toolchain, a kernel on a CuPy stream, every GPU
#              path on a small RNN against the NumPy reference            -> probe.txt
#   tests      the gpu-marked parity grid and the sm_90 compile tests     -> tests.txt
#   bench      S1, S4, S6 (RNN, float32): every numrnn path against cuDNN, TF32 off on
#              both sides; the reference path when the kernels fail       -> bench.md, bench.txt
#   sanitizer  compute-sanitizer racecheck + memcheck on tiny shapes, if time is left
#                                                                          -> sanitizer.txt
#   summary.txt  every stage's status, counts and seconds (rewritten after each stage)
#
# At most 8 files in OUTDIR (these 7); the whole run stays under GPU_CHECK_TOTAL seconds
# (default 330, under 6 minutes). A stage that fails or times out does not stop the next.
# Exit status: 0 every stage passed (the sanitizer may be skipped), 1 a stage did not
# pass, 2 a usage error, 3 no GPU here: one line says so, the summary is written, and
# nothing else runs (within 30 s).
#
# Knobs (environment): PYTHON, GPU_CHECK_TOTAL, GPU_CHECK_T_ENV, GPU_CHECK_T_PROBE,
# GPU_CHECK_T_TESTS, GPU_CHECK_T_BENCH, GPU_CHECK_T_SANITIZER (seconds), GPU_CHECK_MIN_STAGE
# (a stage with less time left is skipped, default 10), GPU_CHECK_WORKERS (pytest-xdist
# workers, default 4), GPU_CHECK_SHAPES (default S1,S4,S6).

set -u

usage() { echo "usage: benchmarks/gpu_check.sh [OUTDIR]   (see the header of this script)" >&2; exit 2; }
[ $# -le 1 ] || usage
case "${1:-}" in -h|--help) usage ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
OUT=${1:-runs/gpu_check}
mkdir -p "$OUT" || { echo "gpu_check: cannot create $OUT" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
FILES=(summary.txt env.txt probe.txt tests.txt bench.md bench.txt sanitizer.txt)
for f in "${FILES[@]}"; do rm -f "$OUT/$f"; done  # a rerun into the same folder starts clean

PYTHON=${PYTHON:-python3}
TOTAL=${GPU_CHECK_TOTAL:-330}
T_ENV=${GPU_CHECK_T_ENV:-30}
T_PROBE=${GPU_CHECK_T_PROBE:-60}
T_TESTS=${GPU_CHECK_T_TESTS:-150}
T_BENCH=${GPU_CHECK_T_BENCH:-110}
T_SANITIZER=${GPU_CHECK_T_SANITIZER:-90}
RESERVE=5     # seconds kept for the summary at the end
MIN_STAGE=${GPU_CHECK_MIN_STAGE:-10}  # a stage with less time than this left is skipped

export PYTHON OUT
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export CUPY_TF32=0  # CuPy's float32 GEMMs in IEEE float32, as cuDNN's with TF32 off
unset NUMBA_ENABLE_CUDASIM NUMRNN_CUPY_PATH NUMRNN_CUDA_GRAPHS NUMRNN_BACKEND

START=$(date +%s)
DEADLINE=$((START + TOTAL))
STAGES=()    # "name|status|seconds|limit|details", in order
OVERALL=""   # PASSED, FAILED or NO-GPU

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

record() { STAGES+=("$1|$2|$3|$4|${5:-}"); }

write_summary() {
    local failed=0 s name status secs limit details
    for s in "${STAGES[@]}"; do
        IFS='|' read -r name status secs limit details <<<"$s"
        case "$status" in PASS|SKIPPED*) ;; *) failed=$((failed + 1)) ;; esac
    done
    [ -n "$OVERALL" ] || OVERALL=$([ "$failed" -eq 0 ] && echo PASSED || echo "FAILED ($failed stage(s) did not pass)")
    {
        echo "gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname 2>/dev/null || echo '?'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "python: $PYTHON ($(command -v "$PYTHON" 2>/dev/null || echo 'not found')); outdir: $OUT"
        echo "status: $OVERALL"
        printf '%-10s %-14s %8s %6s  %s\n' stage status seconds limit details
        for s in "${STAGES[@]}"; do
            IFS='|' read -r name status secs limit details <<<"$s"
            printf '%-10s %-14s %8s %6s  %s\n' "$name" "$status" "$secs" "$limit" "$details"
        done
        echo "total: $(( $(date +%s) - START )) s of $TOTAL s; files in outdir: $(find "$OUT" -maxdepth 1 -type f | wc -l) (at most 8)"
    } >"$OUT/summary.txt"
    OVERALL_FINAL=$OVERALL
    OVERALL=""
}

# run_stage NAME LIMIT FILE COMMAND...: COMMAND under `timeout`, output into OUTDIR/FILE.
run_stage() {
    local name=$1 limit=$2 file=$3
    shift 3
    local left=$((DEADLINE - $(date +%s) - RESERVE))
    local lim=$((limit < left ? limit : left))
    if [ "$lim" -lt "$MIN_STAGE" ]; then
        record "$name" "SKIPPED" 0 "$limit" "no time left (${left}s)"
        write_summary
        return
    fi
    export STAGE_LIMIT=$lim
    local t0
    t0=$(now)
    timeout -k 5 "$lim" "$@" >"$OUT/$file" 2>&1
    local rc=$?
    local secs status details
    secs=$(since "$t0")
    case $rc in
        0) status=PASS ;;
        124|137) status=TIMEOUT; echo "gpu_check: stopped after ${lim}s (stage limit)" >>"$OUT/$file" ;;
        *) status="FAIL(exit $rc)" ;;
    esac
    details=$(grep -a '^RESULT: ' "$OUT/$file" | tail -n 1 | cut -c9- | tr '|' '/')
    if [ "$name" = tests ]; then
        details=$(grep -aE '^(=+ )?[0-9]+ (passed|failed|skipped|errors?|deselected)' "$OUT/$file" | tail -n 1 | tr -d '=' | sed 's/^ *//')
        if [ "$status" = PASS ] && ! grep -q ' passed' <<<"$details"; then status="FAIL(no test ran)"; fi
        if grep -q 'needs CuPy and an NVIDIA GPU' "$OUT/$file"; then  # the parity grid did not run
            status="FAIL(no GPU test)"; details="$details; the gpu tests skipped: CuPy sees no GPU"
        fi
    fi
    record "$name" "$status" "$secs" "$lim" "${details:-see $file}"
    write_summary
}

# -- is there a GPU? -----------------------------------------------------------------------------------
gpu_present() {
    local out rc
    if command -v nvidia-smi >/dev/null 2>&1; then
        out=$(timeout -k 2 10 nvidia-smi -L 2>&1); rc=$?
        if [ $rc -eq 0 ] && grep -q '^GPU ' <<<"$out"; then
            GPU_FOUND=$(grep '^GPU ' <<<"$out" | head -n 1)
            return 0
        fi
        NO_GPU_WHY="nvidia-smi -L failed (exit $rc: $(head -n 1 <<<"$out"))"
    else
        NO_GPU_WHY="no nvidia-smi"
    fi
    if command -v "$PYTHON" >/dev/null 2>&1; then  # a GPU whose machine has no nvidia-smi
        out=$(timeout -k 2 12 "$PYTHON" -c 'import cupy; n = cupy.cuda.runtime.getDeviceCount(); assert n > 0; print(n)' 2>&1); rc=$?
        if [ $rc -eq 0 ]; then
            GPU_FOUND="CuPy sees $(tail -n 1 <<<"$out") GPU(s)"
            return 0
        fi
        NO_GPU_WHY="$NO_GPU_WHY; CuPy sees none ($(tail -n 1 <<<"$out" | cut -c1-120))"
    else
        NO_GPU_WHY="$NO_GPU_WHY; no $PYTHON"
    fi
    return 1
}

if ! gpu_present; then
    for name in env probe tests bench sanitizer; do record "$name" "SKIPPED" 0 - "no GPU"; done
    OVERALL="NO-GPU: $NO_GPU_WHY"
    write_summary
    echo "gpu_check: no NVIDIA GPU here ($NO_GPU_WHY); nothing was run; summary in $OUT/summary.txt"
    exit 3
fi
echo "gpu_check: $GPU_FOUND; results in $OUT (at most $TOTAL s)"

# -- the stages (run through `bash -c` under `timeout`, hence exported) -------------------------------------
# shellcheck disable=SC2317  # called indirectly
env_stage() {
    echo "== nvidia-smi"; nvidia-smi 2>&1
    echo "== GPU"; nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv 2>&1
    echo "== nvcc"; nvcc --version 2>&1 | tail -n 2
    echo "== compute-sanitizer"; compute-sanitizer --version 2>&1 | head -n 3
    echo "== ncu"; ncu --version 2>&1 | tail -n 1
    echo "== python packages and CUDA libraries"
    "$PYTHON" benchmarks/gpu_probe.py --env
    local rc=$? gpu
    gpu=$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -n 1)
    echo "RESULT: ${gpu:-no nvidia-smi query}; CUDA libraries: $([ "$rc" -eq 0 ] && echo found || echo 'NOT all found')"
    return "$rc"
}

# shellcheck disable=SC2317
tests_stage() {
    local args=(-m pytest -q -p no:cacheprovider -o addopts= -rfEs --tb=line -m "gpu or ptx"
                tests/kernels/test_cupy_rnn_gpu.py tests/kernels/test_cuda_rnn.py)
    if "$PYTHON" -c 'import xdist' >/dev/null 2>&1; then args+=(-n "${GPU_CHECK_WORKERS:-4}"); fi
    if "$PYTHON" -c 'import pytest_timeout' >/dev/null 2>&1; then
        args+=(--timeout=120)
        # pytest ends itself before the stage's limit, so its summary line is written
        if "$PYTHON" -m pytest --help 2>/dev/null | grep -q -- '--session-timeout'; then
            args+=("--session-timeout=$((STAGE_LIMIT - 15))")
        fi
    fi
    echo "$PYTHON ${args[*]}"
    "$PYTHON" "${args[@]}"
}

# shellcheck disable=SC2317
bench_stage() {
    "$PYTHON" benchmarks/bench_gpu.py --shapes "${GPU_CHECK_SHAPES:-S1,S4,S6}" --repeats 20 --out "$OUT/bench.md"
}

# shellcheck disable=SC2317
sanitizer_stage() {
    local tool out rc summary failed=0 half=$(( (STAGE_LIMIT - 5) / 2 )) results=()
    for tool in racecheck memcheck; do
        echo "== compute-sanitizer --tool $tool (at most ${half}s)"
        out=$(timeout -k 5 "$half" compute-sanitizer --tool "$tool" --error-exitcode 9 --print-limit 20 \
              "$PYTHON" benchmarks/gpu_probe.py --tiny 2>&1)
        rc=$?
        tail -n 60 <<<"$out"
        summary=$(grep -a 'ERROR SUMMARY' <<<"$out" | tail -n 1 | sed 's/^=* *//')
        case $rc in
            0) results+=("$tool ok (${summary:-no summary});") ;;
            124|137) results+=("$tool timed out (optional: not a failure);") ;;
            *) results+=("$tool exit $rc (${summary:-no summary});"); failed=1 ;;
        esac
    done
    echo "RESULT: ${results[*]}"
    return "$failed"
}

export -f env_stage tests_stage bench_stage sanitizer_stage

run_stage env "$T_ENV" env.txt bash -c env_stage
run_stage probe "$T_PROBE" probe.txt "$PYTHON" benchmarks/gpu_probe.py
run_stage tests "$T_TESTS" tests.txt bash -c tests_stage
run_stage bench "$T_BENCH" bench.txt bash -c bench_stage
if ! command -v compute-sanitizer >/dev/null 2>&1; then
    record sanitizer "SKIPPED" 0 "$T_SANITIZER" "no compute-sanitizer"
    write_summary
elif [ $((DEADLINE - $(date +%s) - RESERVE)) -lt 60 ]; then
    record sanitizer "SKIPPED" 0 "$T_SANITIZER" "less than 60 s left"
    write_summary
else
    run_stage sanitizer "$T_SANITIZER" sanitizer.txt bash -c sanitizer_stage
fi

cat "$OUT/summary.txt"
case "$OVERALL_FINAL" in PASSED) exit 0 ;; *) exit 1 ;; esac
