#!/usr/bin/env bash
# Installs what the hardening checks need beyond pdecon's build dependencies, from Debian 12
# packages, when any is missing: clang 14 with libFuzzer and the sanitizer runtimes (Debian ships
# libclang_rt.fuzzer in libclang-rt-14-dev; libfuzzer-14-dev is only the stand-alone library for
# other compilers and is not needed), clang's OpenMP runtime, llvm-symbolizer for readable
# sanitizer reports, and valgrind. Used by .ci/run for tests/asan.sh, tests/valgrind.sh and
# tests/fuzz/run.sh. Needs root or sudo; does nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh clang libclang-rt-14-dev libomp-14-dev llvm-14 valgrind libc6-dbg
