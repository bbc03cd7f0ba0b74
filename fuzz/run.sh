#!/usr/bin/env bash
# Replays the committed corpus and crashers (cargo test), then fuzzes each target for a bounded
# time with cargo-fuzz (libFuzzer + AddressSanitizer). Exits non-zero on any failure; an input
# that fails is copied to fuzz/crashers/<target>/ so that it can be committed.
#
#   fuzz/run.sh [seconds-per-target] [target...]     (default: 20 s, every target)
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly flags.
# FUZZ_SANITIZER picks cargo-fuzz's sanitizer (default `address`); CI sets `none`, which builds in
# about half the time: the crates fuzzed forbid `unsafe`, and the capped allocator
# (src/capped_alloc.rs) still turns an allocation from a claimed length into a crash.
# New corpus entries go to a scratch directory, so the committed seed corpus stays small.
# Inputs may grow to the relay's frame limit (-max_len, 4 MiB), and the capped allocator aborts an
# input that allocates more than 16 MiB + 10x its size (src/capped_alloc.rs).
set -euo pipefail

seconds="${1:-20}"
shift || true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
all_targets=(doc_load doc_apply_changes sync_decode text_apply_encoded sequence_decode_state network relay_frame)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

echo "== replaying fuzz/corpus and fuzz/crashers"
(cd "$repo" && cargo test -p crdt-core --test fuzz_regressions \
    && cargo test -p sync-server --test relay_frame_regressions)

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

scratch="${FUZZ_SCRATCH:-$(mktemp -d)}"
failed=()
cd "$here"
sanitizer="${FUZZ_SANITIZER:-address}"
cargo fuzz build -s "$sanitizer" 2>&1 | tail -n 3
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    mkdir -p "$scratch/corpus/$target" "$scratch/artifacts/$target"
    if ! cargo fuzz run -s "$sanitizer" "$target" "$scratch/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=4194304 \
        -artifact_prefix="$scratch/artifacts/$target/" -print_final_stats=1 \
        >"$scratch/$target.log" 2>&1; then
        tail -n 40 "$scratch/$target.log"
        mkdir -p "crashers/$target"
        for artifact in "$scratch/artifacts/$target"/*; do
            [ -f "$artifact" ] && cp "$artifact" "crashers/$target/"
        done
        echo "!! $target failed; input(s) copied to fuzz/crashers/$target/"
        failed+=("$target")
    else
        grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$scratch/$target.log" | tail -n 2
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all fuzz targets passed (${seconds}s each)"
