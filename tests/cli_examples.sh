#!/usr/bin/env bash
# Every example in examples/ at its reduced size: it must finish, print a table with numbers for
# each of its methods, and state for each expected shape whether it holds. Shapes that hold at
# the reduced size are asserted (a, b, d, e, GARL rising in c, and in f only the deconvolution
# references: the networks train for a few steps there).
# usage: cli_examples.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
export PDECON=$1 MPIEXEC=$2 SMALL=1 RANKS=2 PDECON_WISDOM=none
ex=$(cd "$(dirname "$0")/../examples" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; sed 's/^/    | /' "$T/log" | tail -12; fails=$((fails + 1)); fi; }
num='[0-9][0-9]*\.[0-9][0-9]*'
bash "$ex/widefield_rl_vs_accelerated.sh" >"$T/log" 2>&1
check "(a) runs and rl_biggs leads at 10 its" 'grep -q "^rl_biggs *$num *$num *$num" "$T/log" && grep -q "holds: yes" "$T/log"'
bash "$ex/stanford_rl_vs_admm.sh" >"$T/log" 2>&1
check "(b) runs and ADMM leads at 100 its" 'grep -q "^admm *22.2 *$num" "$T/log" && grep -q "holds: yes" "$T/log"'
bash "$ex/garl_table1_multiview.sh" >"$T/log" 2>&1
check "(c) runs, four methods scored, GARL rises" '[ "$(grep -c "view\|confocal sum" "$T/log")" -ge 4 ] && grep -q "^GARL, multi-view *-*$num *-*$num *-*$num" "$T/log" && grep -q "GARL rises from 20 to 50 iterations) holds: yes" "$T/log"'
bash "$ex/gibson_lanni_mismatch.sh" >"$T/log" 2>&1
check "(d) runs and the matched PSF wins" 'grep -q "^Gibson-Lanni (matched) *$num" "$T/log" && grep -q "holds: yes" "$T/log"'
bash "$ex/batch_checkpoints_slurm.sh" >"$T/log" 2>&1
check "(e) runs, a stopped task resumes to the uninterrupted result, every stack improves" 'grep -q "exit status 75" "$T/log" && grep -q "continuing from the checkpoint" "$T/log" && [ "$(grep -c "^t[0-9] *$num *$num" "$T/log")" -eq 3 ] && grep -q "every stack above its input) holds: yes" "$T/log" && grep -q "resumed = uninterrupted) holds: yes" "$T/log"'
# (f) at a few training steps: the pipelines run and every row is scored (finite numbers); the
# seeds' orders need the full-size training, only the deconvolution references are asserted
bash "$ex/stanford_srcnn_isonet.sh" >"$T/log" 2>&1
check "(f) SRCNN/Isonet: five rows scored, RL and ADMM above the input" '[ "$(grep -cE "^(input|srcnn|rl|admm|isonet1) +[-0-9.]+ +-?$num +-?$num$" "$T/log")" -eq 5 ] && grep -qE "Isonet-1\) holds: (yes|no)" "$T/log" && awk "\$1 == \"input\" {i = \$4} \$1 == \"rl\" || \$1 == \"admm\" {if (\$4 <= i) bad = 1} END {exit bad}" "$T/log"'
bash "$ex/cyclegan_tables.sh" >"$T/log" 2>&1
check "(f) cycleGAN Tables I/III: five rows scored, rl_biggs above the input" '[ "$(grep -cE "^(input|blind cycleGAN|non-blind cycleGAN|supervised U-Net|rl_biggs \(30 its\)) +[-0-9.]+ +-?$num +-?$num +-?$num$" "$T/log")" -eq 5 ] && grep -qE "supervised\) holds: (yes|no)" "$T/log" && awk "/^input / {i = \$NF} /^rl_biggs / {r = \$NF} END {exit !(r > i)}" "$T/log"'
echo "cli_examples: $passes passed, $fails failed"
[ $fails -eq 0 ]
