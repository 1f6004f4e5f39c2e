#!/usr/bin/env bash
# What a user is told must be true, and no work may be lost: a plain rerun resumes from the
# checkpoint of an interrupted run (and refuses one made otherwise, keeping it), voxel sizes of
# PSF and data are cross-checked, the model PSF covers the stack's depth, uint16 clamping is
# reported, palette and channels-only ImageJ TIFFs read as z-stacks, and the messages of a run
# say what was really done.
# usage: cli_trust.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 mkinputs=$3 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
"$mkinputs" "$T" || { echo "cannot make inputs"; exit 1; }
ok()   { echo "ok   $1"; passes=$((passes + 1)); }
fail() { echo "FAIL $1"; shift; for f in "$@"; do sed 's/^/    | /' "$f" | tail -8; done; fails=$((fails + 1)); }
run()  { local np=$1; shift; timeout 300 "$mpiexec" -n "$np" "$pdecon" "$@"; }

"$mpiexec" -n 2 "$pdecon" simulate -sim_size 24,64,64 -psf_size 9,21,21 -phantom_ntubes 6 -output "$T/sim.h5" >/dev/null 2>&1 ||
  { echo "FAIL cannot simulate"; exit 1; }
common=(-input "$T/sim.h5:/data" -psf "$T/sim.h5:/psf" -decon_background 10 -fft_planner estimate)

# 3. a plain rerun after an interruption resumes from the checkpoint (no -decon_restart) and ends
#    as an uninterrupted run; a rerun with another method is refused and keeps the checkpoint
its=400
run 2 deconvolve "${common[@]}" -decon_max_it $its -output "$T/ref.h5:/x" >"$T/ref.log" 2>&1 || fail "reference run" "$T/ref.log"
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it $its -decon_monitor -output "$T/out.h5:/x" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q " rl objective" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
kill -USR1 $pid; wait $pid; rc=$?
ck="$T/out.h5.checkpoint.h5"
if [ $rc -ne 75 ] || [ ! -f "$ck" ]; then
  fail "interrupted run: rc=$rc (want 75), checkpoint $([ -f "$ck" ] && echo present || echo missing)" "$T/run.log"
else
  sum=$(md5sum <"$ck")
  run 2 deconvolve "${common[@]}" -decon_method rl_biggs -decon_max_it $its -output "$T/out.h5:/x" >"$T/other.log" 2>&1; rc=$?
  if [ $rc -eq 1 ] && grep -q "^pdecon: error: $ck: checkpoint of a method that keeps 0 state volumes, -decon_method rl_biggs keeps" "$T/other.log" &&
     [ "$(md5sum <"$ck")" = "$sum" ] && [ ! -e "$T/out.h5" ]; then
    ok "rerun with another method refused, checkpoint kept: $(grep '^pdecon: error' "$T/other.log")"
  else
    fail "rerun with another method: rc=$rc" "$T/other.log"
  fi
  run 2 deconvolve "${common[@]}" -decon_max_it $its -decon_monitor -output "$T/out.h5:/x" >"$T/rerun.log" 2>&1; rc=$?
  diff=$("$compare" "$T/out.h5:/x" "$T/ref.h5:/x" 1e-6); same=$?
  first=$(grep -m1 -o '^ *[0-9]* rl objective' "$T/rerun.log" | grep -o '[0-9]*')
  if [ $rc -eq 0 ] && [ $same -eq 0 ] && grep -q "resuming from $ck" "$T/rerun.log" && [ "${first:-1}" -gt 1 ] && [ ! -f "$ck" ]; then
    ok "plain rerun resumed at iteration $first: $diff"
  else
    fail "plain rerun: rc=$rc, first iteration ${first:-?}, $diff" "$T/rerun.log"
  fi
fi
rm -f "$T/out.h5" "$ck"

# 1. voxel sizes: a measured PSF sampled unlike the data is refused (named, with the option that
#    accepts it); accepted with the option, with a warning; data without a voxel size and a model
#    PSF without -psf_dxy/-psf_dz: a warning says what was assumed
run 1 psf -psf_dxy 50 -psf_dz 100 -psf_size 9,21,21 -output "$T/psf50.tif" >/dev/null 2>&1 || fail "pdecon psf"
run 2 deconvolve -input "$T/sim.h5:/data" -psf "$T/psf50.tif" -decon_max_it 2 -output "$T/out.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c '^pdecon: error: ' "$T/log")" -eq 1 ] && grep -q "^pdecon: error: $T/psf50.tif: PSF sampled at 100 x 50 x 50 nm (z,y,x), the data $T/sim.h5:/data at 200 x 50 x 50 nm: .*-psf_accept_voxel_mismatch" "$T/log" && [ ! -e "$T/out.h5" ]; then
  ok "PSF/data voxel mismatch refused: $(grep '^pdecon: error' "$T/log")"
else
  fail "PSF/data voxel mismatch: rc=$rc" "$T/log"
fi
run 2 deconvolve -input "$T/sim.h5:/data" -psf "$T/psf50.tif" -psf_accept_voxel_mismatch -decon_max_it 2 -output "$T/out.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^pdecon: warning: $T/psf50.tif: PSF sampled at 100 x 50 x 50 nm" "$T/log" && [ -e "$T/out.h5" ]; then
  ok "PSF/data voxel mismatch accepted with a warning"
else
  fail "PSF/data voxel mismatch with -psf_accept_voxel_mismatch: rc=$rc" "$T/log"
fi
rm -f "$T/out.h5"
run 2 deconvolve -input "$T/data.tif" -decon_max_it 2 -output "$T/out.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^pdecon: warning: $T/data.tif: no voxel size in the file and no -psf_dxy/-psf_dz: the model PSF assumes 65 nm laterally and 200 nm axially" "$T/log"; then
  ok "defaults assumed are said: $(grep '^pdecon: warning' "$T/log")"
else
  fail "no voxel size, model PSF: rc=$rc" "$T/log"
fi
rm -f "$T/out.h5"

# 2. the model PSF's depth covers the stack both ways: a DAPI-like stack of 40 planes (NA 1.45,
#    461 nm, 130/300 nm voxels) gets 79 planes (the focal region alone asked for 13)
run 1 simulate -sim_size 40,16,16 -phantom_voxel 300,130,130 -psf_na 1.45 -psf_lambda 461 -psf_size 9,9,9 -phantom_ntubes 2 -output "$T/dapi.h5" >/dev/null 2>&1 || fail "simulate DAPI-like"
run 2 deconvolve -input "$T/dapi.h5:/data" -psf_na 1.45 -psf_lambda 461 -decon_max_it 1 -fft_planner estimate -view -output "$T/out.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "Born & Wolf PSF (NA 1.45, n 1.518, 461 nm): 79 x [0-9]* x [0-9]* voxels (z covers the stack's 40 planes both ways; the focal region alone needs 13)" "$T/log" &&
   grep -q "PSF 79 x" "$T/log"; then
  ok "model PSF depth: $(grep -o 'Born & Wolf PSF (NA 1.45.*voxels' "$T/log" | head -1)"
else
  fail "model PSF depth: rc=$rc" "$T/log"
fi
rm -f "$T/out.h5"
# within the padding the user fixed: -decon_pad 20 allows 21 planes
run 1 deconvolve -input "$T/dapi.h5:/data" -psf_na 1.45 -psf_lambda 461 -decon_max_it 1 -decon_pad 20 -fft_planner estimate -output "$T/out.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "461 nm): 21 x [0-9]* x [0-9]* voxels (z covers the stack's 40 planes as far as the padding allows" "$T/log"; then
  ok "model PSF depth within -decon_pad"
else
  fail "model PSF depth within -decon_pad: rc=$rc" "$T/log"
fi
rm -f "$T/out.h5"

# 7. TIFF stacks as microscopes and Python save them: an 8-bit ImageJ stack with a lookup table
#    reads as its index values (the same result as the grey stack), a 3-D array labelled
#    channels=N (tifffile's imagej=True without axes) as z-planes, each with one warning line;
#    -input_channels_as_z false refuses the latter
tiffcase() { # NAME INPUT REFERENCE-INPUT WARNING
  run 2 deconvolve -input "$T/$2" -psf "$T/psf.tif" -decon_max_it 3 -fft_planner estimate -output "$T/a.h5" >"$T/log" 2>&1; local rc=$?
  run 2 deconvolve -input "$T/$3" -psf "$T/psf.tif" -decon_max_it 3 -fft_planner estimate -output "$T/b.h5" >"$T/logb" 2>&1
  local diff; diff=$("$compare" "$T/a.h5:/data" "$T/b.h5:/data" 0); local same=$?
  if [ $rc -eq 0 ] && [ $same -eq 0 ] && [ "$(grep -c "^pdecon: warning: $T/$2: $4" "$T/log")" -eq 1 ]; then
    ok "$1 read as a z-stack: $(grep '^pdecon: warning' "$T/log" | head -1)"
  else
    fail "$1: rc=$rc, $diff" "$T/log"
  fi
  rm -f "$T/a.h5" "$T/b.h5"
}
tiffcase "palette (LUT) ImageJ stack" palette.tif gray8.tif "a palette (LUT) image: its index values are read"
tiffcase "channels-only ImageJ stack" channels.tif data.tif "ImageJ labels its 12 planes as channels (no slices): read as z-planes"
run 2 deconvolve -input "$T/channels.tif" -psf "$T/psf.tif" -input_channels_as_z false -decon_max_it 3 -output "$T/a.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "^pdecon: error: $T/channels.tif: ImageJ labels its 12 planes as channels" "$T/log" && [ ! -e "$T/a.h5" ]; then
  ok "channels-only stack refused with -input_channels_as_z false"
else
  fail "channels-only stack with -input_channels_as_z false: rc=$rc" "$T/log"
fi
rm -f "$T/a.h5"

# 6. integer output: the voxels clamped by -output_type uint8 are counted, the same on 1 and 3
#    ranks; -output_scale auto maps the maximum to 255 and nothing is clamped
for np in 1 3; do
  run $np deconvolve -input "$T/data.tif" -psf "$T/psf.tif" -decon_max_it 20 -fft_planner estimate -output_type uint8 -output "$T/a$np.tif" >"$T/log$np" 2>&1 || fail "uint8 output on $np ranks" "$T/log$np"
done
w1=$(grep "^pdecon: warning: $T/a1.tif: [0-9]* voxels (.*) clamped to 255 by -output_type uint8" "$T/log1" | grep -o 'voxels (.*)')
w3=$(grep "^pdecon: warning: $T/a3.tif: [0-9]* voxels (.*) clamped to 255 by -output_type uint8" "$T/log3" | grep -o 'voxels (.*)')
if [ -n "$w1" ] && [ "$w1" = "$w3" ]; then ok "uint8 clamping reported: $(grep '^pdecon: warning' "$T/log1")"; else fail "uint8 clamping: '$w1' vs '$w3'" "$T/log1" "$T/log3"; fi
run 2 deconvolve -input "$T/data.tif" -psf "$T/psf.tif" -decon_max_it 20 -fft_planner estimate -output_type uint8 -output_scale auto -output "$T/a.tif" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "a.tif: values scaled by .* for uint8 (maximum .* -> 255)" "$T/log" && ! grep -q "clamped" "$T/log"; then ok "-output_scale auto: $(grep 'scaled by' "$T/log")"; else fail "-output_scale auto: rc=$rc" "$T/log"; fi
rm -f "$T"/a*.tif

# 8. messages that say what is true
run 1 deconvolve -input "$T/zero.tif" -psf "$T/psf.tif" -decon_max_it 2 -output "$T/a.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^pdecon: warning: $T/zero.tif: the image is zero everywhere" "$T/log"; then ok "all-zero input warned about"; else fail "all-zero input: rc=$rc" "$T/log"; fi
rm -f "$T/a.h5"
run 1 deconvolve -input "$T/data.tif" -psf "$T/psf.tif" -decon_max_it 2 -view -output "$T/a.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "background: the data's 1 percentile (estimated when the data is read)" "$T/log" && grep -q "^$T/data.tif: background used: 10.00[0-9]* per voxel" "$T/log" &&
   ! grep -q "estimated from the data 0" "$T/log"; then
  ok "background: $(grep 'background used' "$T/log")"
else
  fail "background message: rc=$rc" "$T/log"
fi
rm -f "$T/a.h5"
run 1 deconvolve -input "$T/data.tif" -psf_dxy 100 -psf_dz 250 -decon_max_it 2 -output "$T/a.tif" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -aq "spacing=0.25" "$T/a.tif" && grep -aq "pdecon_options=" "$T/a.tif" && ! grep -aq "no_signal_handler" "$T/a.tif"; then
  ok "output records the voxel size used (the input had none) and only the user's options"
else
  fail "output attributes: rc=$rc" "$T/log"
fi
rm -f "$T/a.tif"
run 1 deconvolve -input "$T/data.tif" -psf "$T/psf_inf.tif" -decon_max_it 2 -output "$T/a.h5" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "^pdecon: error: $T/psf_inf.tif: contains NaN or Inf" "$T/log" && ! grep -q "data contains" "$T/log"; then
  ok "Inf in the PSF reported as the PSF file's: $(grep '^pdecon: error' "$T/log")"
else
  fail "Inf in the PSF: rc=$rc" "$T/log"
fi

# -output_dir missing: made once (not failed for every stack); its parent missing: refused once
run 2 deconvolve -input "$T/data.h5:/movie" -psf "$T/psf.tif" -decon_max_it 2 -output_dir "$T/newdir" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "$T/newdir: made the output directory" "$T/log" && [ "$(ls "$T/newdir" | grep -c '_decon.h5$')" -eq 3 ]; then ok "missing -output_dir made once"; else fail "missing -output_dir: rc=$rc" "$T/log"; fi
run 2 deconvolve -input "$T/data.h5:/movie" -psf "$T/psf.tif" -decon_max_it 2 -output_dir "$T/no/such" >"$T/log" 2>&1; rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c '^pdecon: error' "$T/log")" -eq 1 ] && grep -q "^pdecon: error: $T/no/such: -output_dir is not a directory and cannot be made" "$T/log"; then ok "-output_dir without its parent refused once"; else fail "-output_dir without parent: rc=$rc" "$T/log"; fi
# deconvolve -help: pdecon's own options before PETSc's generic help
first=$("$pdecon" deconvolve -help 2>&1 | grep -n -m1 '^  -input ' | cut -d: -f1)
generic=$("$pdecon" deconvolve -help 2>&1 | grep -n -m1 -- '-log_view ascii' | cut -d: -f1)
if [ -n "$first" ] && [ "$first" -lt 30 ] && { [ -z "$generic" ] || [ "$first" -lt "$generic" ]; }; then ok "deconvolve -help lists -input at line $first"; else fail "deconvolve -help: -input at line ${first:-none}, PETSc's -log_view at ${generic:-none}"; fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
