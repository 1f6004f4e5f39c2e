/* The part shared by pdecon's libFuzzer targets (fuzz_tiff.c, fuzz_hdf5.c, fuzz_hdf5_valid.c).

   MPI and PETSc are initialised once (LLVMFuzzerInitialize), with PETSc's error handler set to
   return error codes, so a bad input ends in an error code as it would for a caller that goes on
   after an error. Each input is written to a fresh file in a private temporary directory and goes
   through the real read path on PETSC_COMM_SELF: PdImageQuery, then PdImageRead into a padded
   (strided) slab, and PdImageReadAll as for a PSF.

   What counts as a bug, besides what AddressSanitizer and UBSan report:
   - an error code other than PD_ERR_INPUT / PD_ERR_FILE (bad content must be reported as such);
   - a successful read that writes outside the voxels (row and plane padding must keep their
     sentinel) or leaves a voxel that is not finite (the reader promises finite values);
   - PdImageRead and PdImageReadAll disagreeing on the same file (success, size or any value).
   Allocations beyond 1 GiB fail (tests/fuzz/run.sh): an out-of-memory error code means the reader
   tried to allocate that much for an image of at most PD_FUZZ_MAX_VOXELS voxels.
   Images whose header announces more than PD_FUZZ_MAX_VOXELS voxels are queried only: their
   volume would be allocated by the caller, not by the reader, and is not the reader's bug. */
#ifndef PDECON_FUZZ_COMMON_H
#define PDECON_FUZZ_COMMON_H

#include <pdecon/io/io.h>
#include <pdecon/core/layout.h>
#include <sanitizer/lsan_interface.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PD_FUZZ_MAX_VOXELS ((ptrdiff_t)1 << 22) /* 16 MiB of floats per copy */
#define PD_FUZZ_SENTINEL   0x7fc0dead           /* a NaN: never a valid read voxel */

static char pd_fuzz_dir[256];

static inline void PdFuzzDie(const char *what, const char *spec, PetscErrorCode ierr)
{
  fprintf(stderr, "pdecon fuzz: %s (%s, error code %d)\n", what, spec, (int)ierr);
  abort();
}

static inline void PdFuzzCleanup(void)
{
  if (pd_fuzz_dir[0]) (void)rmdir(pd_fuzz_dir);
}

static inline int PdFuzzInitialize(void)
{
  const char *tmp = getenv("TMPDIR");

  /* libFuzzer's own flags are no PETSc options: initialise without arguments. What MPI and PETSc
     allocate for good while starting up is not a leak of any input. */
  __lsan_disable();
  /* Crashes belong to the sanitizers and libFuzzer, which write the input that caused them:
     PETSc must not install its own signal handler (it would abort through MPI_Abort). */
  if (PetscOptionsSetValue(NULL, "-no_signal_handler", NULL)) abort();
  if (PetscInitializeNoArguments()) abort();
  if (PdInitializePackage()) abort();
  __lsan_enable();
  if (PetscPushErrorHandler(PetscReturnErrorHandler, NULL)) abort();
  snprintf(pd_fuzz_dir, sizeof(pd_fuzz_dir), "%s/pdecon-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(pd_fuzz_dir)) {
    perror("pdecon fuzz: mkdtemp");
    abort();
  }
  atexit(PdFuzzCleanup);
  return 0;
}

static inline int PdFuzzAllowed(PetscErrorCode ierr) { return ierr == 0 || ierr == PD_ERR_INPUT || ierr == PD_ERR_FILE; }

/* With PDECON_FUZZ_VERBOSE set (e.g. when running a corpus with -runs=0): each outcome. */
static inline void PdFuzzReport(const char *what, PetscErrorCode ierr, const PdImageInfo *info)
{
  const char *text = NULL;
  char       *specific = NULL;

  if (!getenv("PDECON_FUZZ_VERBOSE")) return;
  if (ierr) {
    (void)PetscErrorMessage(ierr, &text, &specific);
    fprintf(stderr, "  %s: error %d: %s\n", what, (int)ierr, specific ? specific : text ? text : "?");
  } else if (info) fprintf(stderr, "  %s: %td x %td x %td %s\n", what, info->n[0], info->n[1], info->n[2], info->type);
  else fprintf(stderr, "  %s: ok\n", what);
}

/* A fresh file name (and inode) in the private directory: HDF5 recognises files it still has
   open by inode, so a name is never reused while an old one might be cached. */
static inline void PdFuzzNewPath(char *path, size_t len, const char *ext)
{
  static unsigned long count = 0;

  snprintf(path, len, "%s/in%lu.%s", pd_fuzz_dir, count++, ext);
}

/* The read path on one spec. Returns -1 when the query succeeded but the image is too large to
   read here, else the error code of the reads (0: both succeeded, the voxels compact z,y,x in
   *vals, to be freed with free(); NULL otherwise). */
static inline int PdFuzzReadSpec(const char *spec, PdImageInfo *info, float **vals)
{
  PdImageInfo    info2;
  PdLayout      *lay = NULL;
  float         *v = NULL, *all = NULL;
  PetscErrorCode ierr, ierr2;
  ptrdiff_t      rs, ps;
  size_t         nv;

  *vals = NULL;
  ierr  = PdImageQuery(PETSC_COMM_SELF, spec, info);
  PdFuzzReport("query", ierr, info);
  if (!PdFuzzAllowed(ierr)) PdFuzzDie("PdImageQuery failed with an unexpected error code", spec, ierr);
  if (ierr) return (int)ierr;
  if (info->n[0] <= 0 || info->n[1] <= 0 || info->n[2] <= 0) PdFuzzDie("PdImageQuery accepted an empty or negative size", spec, 0);
  if (info->n[1] > PD_FUZZ_MAX_VOXELS / info->n[2] || info->n[0] > PD_FUZZ_MAX_VOXELS / (info->n[1] * info->n[2])) return -1;

  /* Padded rows and planes, as in FFT volumes, filled with a sentinel NaN. */
  rs = info->n[2] + 3;
  ps = info->n[1] * rs + 5;
  if (PdLayoutCreate(PETSC_COMM_SELF, info->n, 0, info->n[0], rs, ps, &lay)) PdFuzzDie("PdLayoutCreate failed", spec, 0);
  nv = (size_t)(info->n[0] * ps);
  if (PdVolumeAlloc(nv, &v)) PdFuzzDie("PdVolumeAlloc failed", spec, 0);
  for (size_t i = 0; i < nv; i++) {
    const uint32_t sentinel = PD_FUZZ_SENTINEL;
    memcpy(&v[i], &sentinel, sizeof(sentinel));
  }
  ierr = PdImageRead(spec, lay, v);
  PdFuzzReport("read", ierr, NULL);
  if (!PdFuzzAllowed(ierr)) PdFuzzDie("PdImageRead failed with an unexpected error code", spec, ierr);
  if (!ierr)
    for (ptrdiff_t z = 0; z < info->n[0]; z++)
      for (ptrdiff_t i = 0; i < ps; i++) {
        const float *p = &v[z * ps + i];
        ptrdiff_t    y = i / rs, x = i % rs;
        uint32_t     bits;

        memcpy(&bits, p, sizeof(bits));
        if (y < info->n[1] && x < info->n[2]) {
          if (!isfinite(*p)) PdFuzzDie("PdImageRead succeeded but left a voxel that is not finite", spec, 0);
        } else if (bits != PD_FUZZ_SENTINEL) PdFuzzDie("PdImageRead wrote into the row or plane padding", spec, 0);
      }

  ierr2 = PdImageReadAll(PETSC_COMM_SELF, spec, &info2, &all);
  PdFuzzReport("read all", ierr2, NULL);
  if (!PdFuzzAllowed(ierr2)) PdFuzzDie("PdImageReadAll failed with an unexpected error code", spec, ierr2);
  if (!ierr != !ierr2) PdFuzzDie("PdImageRead and PdImageReadAll disagree on success", spec, ierr ? ierr : ierr2);
  if (!ierr2) {
    if (memcmp(info->n, info2.n, sizeof(info->n)) || strcmp(info->type, info2.type)) PdFuzzDie("PdImageQuery and PdImageReadAll disagree on the size or type", spec, 0);
    for (ptrdiff_t z = 0; z < info->n[0]; z++)
      for (ptrdiff_t y = 0; y < info->n[1]; y++)
        if (memcmp(&v[z * ps + y * rs], &all[(z * info->n[1] + y) * info->n[2]], sizeof(float) * (size_t)info->n[2]))
          PdFuzzDie("PdImageRead and PdImageReadAll read different values", spec, 0);
    if (!(*vals = malloc(sizeof(float) * (size_t)PdLayoutGlobalCount(lay)))) abort();
    memcpy(*vals, all, sizeof(float) * (size_t)PdLayoutGlobalCount(lay));
    if (PetscFree(all)) abort();
  }
  if (PdVolumeFree(&v) || PdLayoutDestroy(&lay)) abort();
  return (int)ierr;
}

/* Writes the input to a new file and runs the read path on it. ext: the file name extension;
   dset: ":/dataset" for HDF5 or "". */
static inline void PdFuzzOne(const uint8_t *data, size_t size, const char *ext, const char *dset)
{
  char        path[512], spec[600];
  FILE       *f;
  PdImageInfo info;
  float      *vals;

  PdFuzzNewPath(path, sizeof(path), ext);
  snprintf(spec, sizeof(spec), "%s%s", path, dset);
  if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f)) {
    perror("pdecon fuzz: cannot write the input file");
    abort();
  }
  (void)PdFuzzReadSpec(spec, &info, &vals);
  free(vals);
  (void)unlink(path);
}

#endif
