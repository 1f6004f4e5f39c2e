#!/usr/bin/env bash
# Tiled deconvolution through the executable: -decon_tiles 2,2 with a wide margin matches the
# untiled run (tolerance 2e-3 relative, see docs/tiles.md); the tiled result is the same on 1, 2
# and 3 ranks, and in tile-parallel mode (-decon_tile_groups); a stack over -decon_memory_limit is tiled by the default (auto), not refused; a
# margin narrower than the PSF is widened with a message; a limit no tiling meets is refused.
# Tile-parallel runs (one rank a tile) on 1, 2 and 3 ranks, whichever rank draws which tile from
# the work queue, give the same volume exactly; a run stopped after 2 of 4 tiles exits 75, keeps
# its tiles and no output, and run again ends with exactly the uninterrupted volume; tiles of
# other settings are refused and kept; a TIFF input (pages read and cropped) gives the HDF5
# input's volume.
# usage: cli_tiles.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0
fail() { echo "FAIL $1"; [ -f "$T/log" ] && sed 's/^/    | /' "$T/log" | tail -5; fails=$((fails + 1)); }
"$mpiexec" -n 2 "$pdecon" simulate -sim_size 24,96,96 -psf_size 11,15,15 -phantom_ntubes 8 -output "$T/sim.h5" >/dev/null 2>&1 || { echo "FAIL cannot simulate"; exit 1; }
common=(-input "$T/sim.h5:/data" -psf "$T/sim.h5:/psf" -decon_background 10 -decon_max_it 20)

"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_tiles off -output "$T/ref.h5:/x" >"$T/log" 2>&1 || fail "untiled run"
for np in 1 2 3; do
  "$mpiexec" -n $np "$pdecon" deconvolve "${common[@]}" -decon_tiles 2,2 -decon_tile_margin 16,16 -output "$T/t$np.h5:/x" >"$T/log" 2>&1 || fail "tiled run on $np ranks"
  grep -q "tiles: 4 = 1 x 2 x 2" "$T/log" || fail "no plan printed on $np ranks"
done
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_tiles 2,2 -decon_tile_margin 16,16 -decon_tile_groups 2 -output "$T/q2.h5:/x" >"$T/log" 2>&1 || fail "tile-parallel run"
"$compare" "$T/q2.h5:/x" "$T/t2.h5:/x" 1e-5 || fail "tile-parallel (2 groups) vs tiles on all ranks"
"$compare" "$T/t2.h5:/x" "$T/ref.h5:/x" 2e-3 || fail "2 x 2 tiles (margin 16) differ from untiled"
"$compare" "$T/t1.h5:/x" "$T/t2.h5:/x" 1e-5 || fail "tiled result: 1 vs 2 ranks"
"$compare" "$T/t3.h5:/x" "$T/t2.h5:/x" 1e-5 || fail "tiled result: 3 vs 2 ranks"

"$mpiexec" -n 1 "$pdecon" deconvolve "${common[@]}" -decon_tiles 2,2 -decon_tile_margin 1,1 -output "$T/narrow.h5:/x" >"$T/log" 2>&1 || fail "narrow margin run"
grep -q "widened" "$T/log" || fail "a margin narrower than the PSF was not widened with a message"

# the planner's own estimate of one volume, then a limit a little below it
need=$("$mpiexec" -n 1 "$pdecon" deconvolve "${common[@]}" -decon_tiles off -decon_max_it 1 -decon_memory_view -output "$T/probe.h5:/x" 2>&1 | sed -n 's/^memory per rank: \([0-9.]*\) MiB.*/\1/p')
# (1.5 MiB below: the process's own 50 MiB dominate, and 2 MiB would leave room only for tiles
# split in z as well, whose result lies further from the untiled one than the tolerance below)
limit=$(awk -v n="$need" 'BEGIN { printf "%.1f", n - 1.5 }')
"$mpiexec" -n 1 "$pdecon" deconvolve "${common[@]}" -decon_memory_limit "$limit" -output "$T/auto.h5:/x" >"$T/log" 2>&1 || fail "auto under -decon_memory_limit $limit (one volume: $need MiB) refused"
grep -q "does not fit in .* MiB per rank: tiles:" "$T/log" || fail "auto did not print its plan"
"$compare" "$T/auto.h5:/x" "$T/ref.h5:/x" 3e-2 || fail "auto-tiled result far from untiled"
if "$mpiexec" -n 1 "$pdecon" deconvolve "${common[@]}" -decon_memory_limit 5 -output "$T/none.h5:/x" >"$T/log" 2>&1 || [ -f "$T/none.h5" ]; then fail "a limit no tiling meets was not refused"; fi
grep -q "pdecon: error: -decon_tiles auto: " "$T/log" || fail "refusal message"

# ---------------------------------------------------------------- work queue, stop and resume
# exact equality needs the same FFT plans in every run: FFTW's estimate is deterministic (measured
# plans may differ from run to run, and with them the rounding)
tp=(-decon_tiles 2,2 -decon_tile_margin 8,8 -fft_planner estimate)
for np in 1 2 3; do
  "$mpiexec" -n $np "$pdecon" deconvolve "${common[@]}" "${tp[@]}" -decon_tile_groups $np -output "$T/g$np.h5:/x" >"$T/log" 2>&1 || fail "tile-parallel run on $np ranks"
done
"$compare" "$T/g2.h5:/x" "$T/g1.h5:/x" 0 || fail "one rank a tile: 2 ranks differ from 1"
"$compare" "$T/g3.h5:/x" "$T/g1.h5:/x" 0 || fail "one rank a tile: 3 ranks differ from 1"
[ -e "$T/g1.h5.tiles" ] && fail "the tiles' directory is left after the output was written"

rc=0
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" "${tp[@]}" -decon_tile_groups 2 -decon_tile_stop_after 2 -output "$T/r.h5:/x" >"$T/log" 2>&1 || rc=$?
[ $rc -eq 75 ] || fail "a run stopped after 2 tiles exits $rc, not 75"
grep -q "2 of 4 tiles finished, kept in $T/r.h5.tiles" "$T/log" || fail "the stop does not say what was kept"
[ -e "$T/r.h5" ] && fail "a stopped run left an output"
[ "$(ls "$T/r.h5.tiles" | grep -c '^tile_[0-9]*\.h5$')" -eq 2 ] || fail "the stopped run did not keep its 2 tiles"
# other settings: refused with one line, the tiles kept
if "$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" "${tp[@]}" -decon_max_it 21 -output "$T/r.h5:/x" >"$T/log" 2>&1; then fail "tiles of other settings were used"; fi
grep -q "pdecon: error: $T/r.h5.tiles: tiles of another input, plan or settings" "$T/log" || fail "refusal of other settings' tiles"
[ "$(ls "$T/r.h5.tiles" | grep -c '^tile_[0-9]*\.h5$')" -eq 2 ] || fail "refused tiles were not kept"
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" "${tp[@]}" -decon_tile_groups 2 -output "$T/r.h5:/x" >"$T/log" 2>&1 || fail "resumed run"
grep -q "resuming: 2 of 4 tiles finished" "$T/log" || fail "the resumed run did not say it resumed"
# (the groups print their tiles' lines at the same time: count the tiles, not the lines)
[ "$(grep -o 'tile [0-9]/4 \[' "$T/log" | wc -l)" -eq 2 ] || fail "the resumed run solved other than the 2 unfinished tiles"
"$compare" "$T/r.h5:/x" "$T/g2.h5:/x" 0 || fail "stopped and resumed differs from uninterrupted"

# never a user's data: a directory of that name holding other files, or a file, is refused and kept
mkdir "$T/o.h5.tiles" && echo mine >"$T/o.h5.tiles/notes.txt"
if "$mpiexec" -n 1 "$pdecon" deconvolve "${common[@]}" "${tp[@]}" -output "$T/o.h5:/x" >"$T/log" 2>&1; then fail "a directory of other files was used for the tiles"; fi
grep -q "pdecon: error: $T/o.h5.tiles: a directory that holds no tiles of pdecon" "$T/log" && [ "$(cat "$T/o.h5.tiles/notes.txt")" = mine ] || fail "a directory of other files: refusal, or the file kept"
echo mine >"$T/f.h5.tiles"
if "$mpiexec" -n 1 "$pdecon" deconvolve "${common[@]}" "${tp[@]}" -output "$T/f.h5:/x" >"$T/log" 2>&1; then fail "a file in the tiles' place was used"; fi
grep -q "pdecon: error: $T/f.h5.tiles: exists and is not a directory" "$T/log" && [ "$(cat "$T/f.h5.tiles")" = mine ] || fail "a file in the tiles' place: refusal, or the file kept"

# the planner estimates a tile on the ranks of one group: a rank a tile needs more per rank
# (compared without the process's own resident size, which varies by a few MiB between runs)
plan_mib() { "$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" "${tp[@]}" -decon_tile_groups "$1" -decon_tile_stop_after 0 -output "$T/p$1.h5:/x" 2>&1 | sed -n 's/^tiles: .*; \([0-9.]*\) MiB per rank.* own \([0-9.]*\) MiB included.*/\1 \2/p' | awk '{ printf "%.1f", $1 - $2 }'; rm -rf "$T/p$1.h5.tiles"; }
m1=$(plan_mib 1) m2=$(plan_mib 2)
awk -v a="$m1" -v b="$m2" 'BEGIN { exit !(a > 0 && b > a) }' || fail "plan per rank: $m1 MiB for tiles on 2 ranks, $m2 MiB for a rank a tile (want more)"

# a TIFF input (each rank reads its pages whole and crops its tile's box) and the same values as
# stack 0 of a 4-D HDF5 dataset (a hyperslab of it)
"$3" "$T" >/dev/null 2>&1 || fail "cannot make the test inputs"
small=(-psf "$T/psf.tif" -decon_background 10 -decon_max_it 10 -decon_tiles 2,2 -fft_planner estimate)
"$mpiexec" -n 3 "$pdecon" deconvolve -input "$T/data.tif" "${small[@]}" -output "$T/tif.h5:/x" >"$T/log" 2>&1 || fail "tiled run from a TIFF"
"$mpiexec" -n 3 "$pdecon" deconvolve -input "$T/data.h5:/movie[0]" "${small[@]}" -output "$T/m0.h5:/x" >"$T/log" 2>&1 || fail "tiled run from a 4-D HDF5 dataset"
"$compare" "$T/tif.h5:/x" "$T/m0.h5:/x" 0 || fail "TIFF input differs from the same values in HDF5"

[ $fails -eq 0 ] && echo "cli_tiles: passed" || { echo "cli_tiles: $fails failed"; exit 1; }
