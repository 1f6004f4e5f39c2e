# Shared by the examples: where pdecon is, how to run it, and how to read its scores.
# PDECON (default: build/pdecon next to this folder), MPIEXEC (default: mpirun), RANKS (2),
# SMALL=1 for a reduced size (what ctest runs), OUT (a folder for the files; default a new
# temporary one, removed at the end).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PDECON=${PDECON:-$here/../build/pdecon}
MPIEXEC=${MPIEXEC:-mpirun}
RANKS=${RANKS:-2}
SMALL=${SMALL:-0}
if [ -z "${OUT:-}" ]; then OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT; fi
run() { "$MPIEXEC" -n "$RANKS" "$PDECON" "$@"; }
# score LOG IT: PSNR, PSNR-ls, SSIM, RSNR of iterate IT from a -decon_truth -decon_monitor log
score() { sed -n "s/^ *$2 vs truth: PSNR \([-0-9.inf]*\) dB  PSNR-ls \([-0-9.inf]*\) dB  SSIM \([-0-9.nan]*\)  RSNR \([-0-9.inf]*\) dB$/\1 \2 \3 \4/p" "$1"; }
# input LOG: the same for the input
input_score() { sed -n 's/^input vs truth: PSNR \([-0-9.inf]*\) dB  PSNR-ls \([-0-9.inf]*\) dB  SSIM \([-0-9.nan]*\)  RSNR \([-0-9.inf]*\) dB$/\1 \2 \3 \4/p' "$1"; }
# field "a b c d" N
field() { echo "$1" | awk -v n="$2" '{print $n}'; }
# holds A OP B: "yes" or "no"
holds() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {r = (op == ">") ? a > b : a < b; print r ? "yes" : "no"}'; }
