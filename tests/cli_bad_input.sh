#!/usr/bin/env bash
# Bad input through the pdecon executable: each case must end with a non-zero exit, exactly one
# error line naming the file and the problem, and no output file (final or temporary) left behind.
# usage: cli_bad_input.sh PDECON MPIEXEC MAKE_TEST_INPUTS
set -u
pdecon=$1 mpiexec=$2 mkinputs=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$mkinputs" "$T" || { echo "cannot make inputs"; exit 1; }
export PDECON_WISDOM=none
fails=0 passes=0

# expect_error NAME EXPECTED-TEXT RANKS ARGS...   (RANKS 1: run directly; >1: under mpirun)
expect_error() {
  local name=$1 expect=$2 np=$3
  shift 3
  local err="$T/err.txt" rc
  if [ "$np" -eq 1 ]; then
    timeout 120 "$pdecon" "$@" >"$T/out.txt" 2>"$err"; rc=$?
  else
    timeout 120 "$mpiexec" -n "$np" "$pdecon" "$@" >"$T/out.txt" 2>"$err"; rc=$?
  fi
  local lines ours
  ours=$(grep -c '^pdecon: error: ' "$err")
  lines=$(grep -vc '^$' "$err")
  left=$(ls -A "$T" | grep -E '^(out|\.out)' | grep -v '^out.txt$' || true)
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ "$ours" -ne 1 ] || ! grep -q -- "$expect" "$err" || [ -n "$left" ] ||
     { [ "$np" -eq 1 ] && [ "$lines" -ne 1 ]; }; then
    echo "FAIL $name (np $np): rc=$rc, error lines=$ours/$lines, leftover='$left'"; sed 's/^/    | /' "$err" | head -20
    fails=$((fails + 1))
  else
    echo "ok   $name (np $np): $(grep '^pdecon: error: ' "$err")"
    passes=$((passes + 1))
  fi
  rm -rf "$T"/out* "$T"/.out*
}

D="$T/data.tif"; P="$T/psf.tif"
sum0=$(md5sum <"$D")
for np in 1 2; do
  expect_error "missing file"         "nope.tif"            $np deconvolve -input "$T/nope.tif" -psf "$P" -output "$T/out.h5"
  expect_error "missing dataset"      "nothere"             $np deconvolve -input "$T/data.h5:/nothere" -psf "$P" -output "$T/out.h5"
  expect_error "2-D dataset"          "data.h5"             $np deconvolve -input "$T/data.h5:/flat" -psf "$P" -output "$T/out.h5"
  expect_error "NaN in data"          "nan.tif"             $np deconvolve -input "$T/nan.tif" -psf "$P" -output "$T/out.h5"
  expect_error "Inf in PSF"           "psf_inf.tif"         $np deconvolve -input "$D" -psf "$T/psf_inf.tif" -output "$T/out.h5"
  expect_error "all-zero PSF"         "psf_zero.tif"        $np deconvolve -input "$D" -psf "$T/psf_zero.tif" -output "$T/out.h5"
  expect_error "negative data"        "negative"            $np deconvolve -input "$T/negative.tif" -psf "$P" -output "$T/out.h5"
  expect_error "PSF > image, periodic" "psf15.tif"          $np deconvolve -input "$D" -psf "$T/psf15.tif" -decon_boundary periodic -output "$T/out.h5"
  expect_error "PSF > padded image"   "larger than the padded image" $np deconvolve -input "$D" -psf "$T/psf15.tif" -decon_pad 0 -output "$T/out.h5"
  expect_error "unwritable directory" "/nonexistent-dir"    $np deconvolve -input "$D" -psf "$P" -output "/nonexistent-dir/out.h5"
  expect_error "output is the input"  "data.tif"            $np deconvolve -input "$D" -psf "$P" -output "$D"
  expect_error "unknown option"       "decon_maxit (did you mean -decon_max_it?)"       $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_maxit 3
  expect_error "no input"             "-input"              $np deconvolve -psf "$P" -output "$T/out.h5"
  expect_error "memory limit"         "MiB per rank"        $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -memory_limit 5
done
# option values: a letter string for a number, a value out of range, an unknown enum value:
# one line naming the option and what it accepts, exit 1, on every rank count
for np in 1 2 3; do
  expect_error "max_it letters"       "-decon_max_it: 'abc' is not an integer" $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_max_it abc
  expect_error "rtol letters"         "-decon_rtol: 'abc' is not a number"     $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_rtol abc
  expect_error "max_it negative"      "-decon_max_it: -5 is not accepted"      $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_max_it -5
  expect_error "max_it zero"          "-decon_max_it: 0 is not accepted"       $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_max_it 0
  expect_error "pad item letters"     "-decon_pad: 'b' is not an integer"      $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_pad 1,b,3
  expect_error "bool letters"         "-decon_clip_negative: 'x' is not true"  $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_clip_negative x
  expect_error "enum unknown"         "-decon_boundary: 'foo' is not accepted; one of: padded periodic" $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_boundary foo
  expect_error "psf_na letters"       "-psf_na: 'x' is not a number"           $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -psf_na x
  expect_error "threads letters"      "-threads: 'x' is not an integer"        $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -threads x
  expect_error "percentile range"     "-decon_background_percentile: 150"      $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_background_percentile 150
  expect_error "start unknown"        "-decon_start: 'foo' is not accepted; one of: flat data smooth wiener" $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_start foo
  expect_error "start K zero"         "-decon_start_wiener_k: 0" $np deconvolve -input "$D" -psf "$P" -output "$T/out.h5" -decon_start_wiener_k 0
done

# the input must be untouched after the "output is the input" cases
[ "$(md5sum <"$D")" = "$sum0" ] && { echo "ok   input unchanged"; passes=$((passes + 1)); } || { echo "FAIL input changed"; fails=$((fails + 1)); }

# more ranks than planes: 2 planes on 3 ranks (one rank owns none) must work
if timeout 120 "$mpiexec" -n 3 "$pdecon" deconvolve -input "$T/tiny.tif" -psf_type gaussian -psf_size 1,9,9 -decon_boundary periodic \
     -decon_max_it 3 -output "$T/out_tiny.h5" >"$T/log.txt" 2>&1 && [ -f "$T/out_tiny.h5" ]; then
  echo "ok   3 ranks on 2 planes"; passes=$((passes + 1))
else
  echo "FAIL 3 ranks on 2 planes"; sed 's/^/    | /' "$T/log.txt" | head; fails=$((fails + 1))
fi
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
