/* Distributed FFT convolution: plans, OTF, and the operators H and Hᵀ (see fftconv.h). */
#include "fft/fftconv_impl.h"
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


ptrdiff_t PdFFTGoodSize(ptrdiff_t n)
{
  for (ptrdiff_t m = PetscMax(n, 1);; m++) {
    ptrdiff_t r = m;
    while (r % 2 == 0) r /= 2;
    while (r % 3 == 0) r /= 3;
    while (r % 5 == 0) r /= 5;
    while (r % 7 == 0) r /= 7;
    if (r == 1) return m;
  }
}

/* m without its factors 2 */
static ptrdiff_t OddPart(ptrdiff_t m)
{
  while (m % 2 == 0) m /= 2;
  return m;
}

ptrdiff_t PdFFTFastSize(ptrdiff_t n)
{
  const ptrdiff_t lo = PdFFTGoodSize(n), hi = PetscMax(n, 1) + PetscMax(n, 1) / 16;
  ptrdiff_t       best = lo;

  for (ptrdiff_t m = lo + 1; m <= hi; m++)
    if (OddPart(m) < OddPart(best) && PdFFTGoodSize(m) == m) best = m;
  return best;
}

PetscErrorCode PdFFTConvLocalSizes(MPI_Comm comm, const ptrdiff_t n[3], size_t *work, size_t *planes)
{
  int size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  /* the slots (fft_blocks.h): ceil(n0/P) P ceil(n1/P) rows, room for this rank's planes and for
     its spectrum, which has no buffer of its own (more than both only where the slabs are uneven) */
  const ptrdiff_t zmax = (n[0] + size - 1) / size, ymax = (n[1] + size - 1) / size, nc = n[2] / 2 + 1;
  if (work) *work = (size_t)(2 * zmax * size * ymax * nc);
  /* a plane per thread and thread 0's ring; one block of columns per thread (at most a plane's
     worth: zblk <= 1 + 128 KiB / column) */
  if (planes) {
    const size_t plane = (size_t)(2 * PetscMax(n[1], (size - 1) * ymax) * nc);
    *planes            = plane * (size_t)(PdGetThreads() + PD_FFT_RING - 1);
    *planes += (size_t)PdGetThreads() * (size_t)(2 * n[0] * PetscMin(ymax, 1 + (128 * 1024) / (n[0] * nc * 8)) * nc);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvCreate(MPI_Comm comm, PdFFTConv *c)
{
  const char *env = getenv("PDECON_WISDOM");
  const char *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCall(PetscNew(c));
  (*c)->comm    = comm;
  (*c)->xcomm   = MPI_COMM_NULL;
  (*c)->planner = FFTW_MEASURE;
  if (env) PetscCall(PetscStrncpy((*c)->wisdom, strcmp(env, "none") ? env : "", sizeof((*c)->wisdom)));
  else if (xdg && xdg[0]) snprintf((*c)->wisdom, sizeof((*c)->wisdom), "%s/pdecon/fftwf.wisdom", xdg);
  else if (home && home[0]) snprintf((*c)->wisdom, sizeof((*c)->wisdom), "%s/.cache/pdecon/fftwf.wisdom", home);
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetOptionsPrefix(PdFFTConv c, const char prefix[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(c->prefix));
  if (prefix && prefix[0]) PetscCall(PetscStrallocpy(prefix, &c->prefix));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetReproducible(PdFFTConv c)
{
  PetscFunctionBegin;
  c->planner = FFTW_ESTIMATE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetFromOptions(PdFFTConv c)
{
  const char *planners[] = {"estimate", "measure", "patient"};
  PetscInt    which = c->planner == FFTW_ESTIMATE ? 0 : c->planner == FFTW_PATIENT ? 2 : 1;
  char        wis[PETSC_MAX_PATH_LEN];
  PetscBool   set;

  PetscFunctionBegin;
  PetscOptionsBegin(c->comm, c->prefix, "Distributed FFT convolution", "FFT");
  PetscCall(PetscOptionsEList("-fft_planner", "FFTW planning effort", "PdFFTConvSetFromOptions", planners, 3, planners[which], &which, NULL));
  PetscCall(PetscOptionsString("-fft_wisdom", "FFTW wisdom file shared by all runs (none: do not use one)", "PdFFTConvSetFromOptions", c->wisdom[0] ? c->wisdom : "none", wis, sizeof(wis), &set));
  PetscOptionsEnd();
  c->planner = which == 0 ? FFTW_ESTIMATE : which == 2 ? FFTW_PATIENT : FFTW_MEASURE;
  if (set) PetscCall(PetscStrncpy(c->wisdom, strcmp(wis, "none") ? wis : "", sizeof(c->wisdom)));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetSizes(PdFFTConv c, const ptrdiff_t n[3])
{
  PetscFunctionBegin;
  PetscCheck(!c->setup, c->comm, PETSC_ERR_ORDER, "sizes are fixed once the plans are made");
  for (int d = 0; d < 3; d++) {
    PetscCheck(n[d] >= 1, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "FFT size must be positive");
    c->n[d] = n[d];
  }
  PetscFunctionReturn(0);
}

/* Wisdom: rank 0 reads the file and broadcasts; after planning the union of every rank's wisdom
   is gathered on rank 0 and written back atomically (temporary name, then rename). */
static PetscErrorCode WisdomLoad(PdFFTConv c)
{
  int rank, ok = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(c->comm, &rank));
  if (!c->wisdom[0]) PetscFunctionReturn(0);
  if (rank == 0 && access(c->wisdom, R_OK) == 0) ok = fftwf_import_wisdom_from_filename(c->wisdom);
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, c->comm));
  if (ok) fftwf_mpi_broadcast_wisdom(c->comm);
  PetscFunctionReturn(0);
}

static PetscErrorCode WisdomSave(PdFFTConv c)
{
  int  rank;
  char dir[PETSC_MAX_PATH_LEN], tmp[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBegin;
  if (!c->wisdom[0]) PetscFunctionReturn(0);
  fftwf_mpi_gather_wisdom(c->comm);
  PetscCallMPI(MPI_Comm_rank(c->comm, &rank));
  if (rank != 0) PetscFunctionReturn(0);
  /* Create the cache directory (one level); failures only cost replanning next time. */
  PetscCall(PetscStrncpy(dir, c->wisdom, sizeof(dir)));
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    char *up = strrchr(dir, '/');
    if (up && up != dir) {
      *up = 0;
      (void)mkdir(dir, 0755);
      *up = '/';
    }
    (void)mkdir(dir, 0755);
  }
  snprintf(tmp, sizeof(tmp), "%s.tmp.%d", c->wisdom, (int)getpid());
  if (fftwf_export_wisdom_to_filename(tmp)) {
    if (rename(tmp, c->wisdom)) (void)unlink(tmp);
  } else PetscCall(PetscInfo(NULL, "cannot write FFTW wisdom to %s\n", c->wisdom));
  PetscFunctionReturn(0);
}

/* A block of m columns along kz (PdKzPlan), planned on s. */
static PetscErrorCode PlanKz(PdFFTConv c, ptrdiff_t m, fftwf_complex *s, int sign, PdKzPlan *p)
{
  const int nz = (int)c->n[0], stride = (int)m, body = (int)(m - m % 4), tail = (int)(m % 4);

  PetscFunctionBegin;
  p->nbody = body;
  p->body  = body ? fftwf_plan_many_dft(1, &nz, body, s, NULL, stride, 1, s, NULL, stride, 1, sign, c->planner) : NULL;
  p->tail  = tail ? fftwf_plan_many_dft(1, &nz, tail, s + body, NULL, stride, 1, s + body, NULL, stride, 1, sign, c->planner) : NULL;
  PetscCheck((!body || p->body) && (!tail || p->tail), PETSC_COMM_SELF, PETSC_ERR_LIB, "FFTW could not plan the blocked transforms along z (%td)", c->n[0]);
  PetscFunctionReturn(0);
}

/* Plans: the 2-D transform of one plane (out of place, into a per-thread scratch spectrum that
   stays in cache while its rows are scattered) and the 1-D transforms along kz of the columns of
   a block of spectral rows (in place). Both are one-thread plans: the planes and the blocks are
   shared out between the threads. Planning with MEASURE overwrites the buffers, so the plans
   are made before any data goes in. */
static PetscErrorCode MakePlans(PdFFTConv c)
{
  const int       n12[2] = {(int)c->n[1], (int)c->n[2]}, rin[2] = {(int)c->n[1], (int)(2 * c->nc)};
  const ptrdiff_t cols = c->nky * c->nc;
  /* a plane's start is aligned like the buffer's only if a plane is a whole number of SIMD words */
  const unsigned  align = (c->n[1] * c->nc) % 2 ? FFTW_UNALIGNED : 0;

  PetscFunctionBegin;
  fftwf_plan_with_nthreads(1);
  c->plane_fwd = fftwf_plan_many_dft_r2c(2, n12, 1, c->work, rin, 1, 0, c->scratch[0], NULL, 1, 0, c->planner | align);
  c->plane_inv = fftwf_plan_many_dft_c2r(2, n12, 1, c->scratch[0], NULL, 1, 0, c->work, rin, 1, 0, c->planner | align);
  PetscCheck(c->plane_fwd && c->plane_inv, PETSC_COMM_SELF, PETSC_ERR_LIB, "FFTW could not plan the %td x %td plane transforms", c->n[1], c->n[2]);
  if (cols > 0) {
    const ptrdiff_t nz = c->n[0];
    fftwf_complex  *s;
    /* Blocks of spectral rows small enough to stay in cache (about 128 KiB of spectrum) while
       they are transformed along kz, filtered and transformed back. A block is gathered from
       the slots into its thread's column buffer, so that FFTW transforms adjacent columns side
       by side: on one rank too, where the block lies in place with its kz a plane apart, FFTW's
       own strided copies (cpy2d) took a quarter of the run at 64×256×256 and the gather, runs of
       whole rows, costs less. */
    ptrdiff_t b = PetscMax(1, (128 * 1024) / (ptrdiff_t)(nz * c->nc * sizeof(fftwf_complex)));
    c->zblk     = PetscMin(b, c->nky);
    c->zrem     = c->nky % c->zblk;
    PetscCall(PetscCalloc1(c->nthreads, &c->colbuf));
    for (int t = 0; t < c->nthreads; t++) {
      c->colbuf[t] = fftwf_alloc_complex((size_t)(c->n[0] * c->zblk * c->nc));
      PetscCheck(c->colbuf[t], PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate the FFT column buffers");
    }
    s = c->colbuf[0];
    for (int d = 0; d < 2; d++) {
      PetscCall(PlanKz(c, c->zblk * c->nc, s, d ? FFTW_BACKWARD : FFTW_FORWARD, &c->zb[d]));
      if (c->zrem) PetscCall(PlanKz(c, c->zrem * c->nc, s, d ? FFTW_BACKWARD : FFTW_FORWARD, &c->zr[d]));
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetUp(PdFFTConv c)
{
  ptrdiff_t z0, nzl;
  double    t0;

  PetscFunctionBegin;
  if (c->setup) PetscFunctionReturn(0);
  PetscCheck(c->n[0] > 0, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetSizes first");
  PetscCheck(c->n[1] * (c->n[2] / 2 + 1) <= INT_MAX / 2 && c->n[0] <= INT_MAX, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "working volume %td x %td x %td too large for one plane's messages", c->n[0], c->n[1], c->n[2]);
  PetscCallMPI(MPI_Comm_rank(c->comm, &c->rank));
  PetscCallMPI(MPI_Comm_size(c->comm, &c->size));
  PetscCallMPI(MPI_Comm_dup(c->comm, &c->xcomm));
  c->nc = c->n[2] / 2 + 1;
  PdBlockRange(c->n[0], c->size, c->rank, &z0, &nzl);
  PetscCall(PetscMalloc1(c->size + 1, &c->ystart));
  for (int r = 0; r < c->size; r++) {
    ptrdiff_t cnt;
    PdBlockRange(c->n[1], c->size, r, &c->ystart[r], &cnt);
  }
  c->ystart[c->size] = c->n[1];
  c->ky0 = c->ystart[c->rank]; /* this rank's rows, kept apart because every loop uses them */
  c->nky = c->ystart[c->rank + 1] - c->ky0;
  c->ncplx = c->n[0] * c->nky * c->nc;
  c->zmax  = (c->n[0] + c->size - 1) / c->size;
  c->ymax  = (c->n[1] + c->size - 1) / c->size;
  PetscCall(PdLayoutCreate(c->comm, c->n, z0, nzl, 2 * c->nc, c->n[1] * 2 * c->nc, &c->lay));
  PetscCall(PdFFTConvLocalSizes(c->comm, c->n, &c->nwork, NULL));
  c->nthreads = PdGetThreads();
  PetscCall(PdFFTBuffersCreate(c));
  /* a plane buffer per thread and thread 0's ring; the first of the ring's is also room for one
     slot per peer (SwapSlots) and for one slot (PdFFTSlotsToSpectrum) */
  PetscCall(PetscCalloc1(c->nthreads + PD_FFT_RING - 1, &c->scratch));
  for (int t = 0; t < c->nthreads + PD_FFT_RING - 1; t++) {
    c->scratch[t] = fftwf_alloc_complex((size_t)(PetscMax(c->n[1], (c->size - 1) * c->ymax) * c->nc));
    PetscCheck(c->scratch[t], PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate the FFT plane buffers");
  }
  PetscCall(PetscLogEventBegin(PD_EV_FFT_PLAN, 0, 0, 0, 0));
  t0 = PdTime();
  PetscCall(WisdomLoad(c));
  PetscCall(MakePlans(c));
  c->plan_time = PdTime() - t0;
  PetscCall(WisdomSave(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_PLAN, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &c->plan_time, 1, MPI_DOUBLE, MPI_MAX, c->comm));
  memset(c->work, 0, c->nwork * sizeof(float));
  c->setup = PETSC_TRUE;
  PetscCall(PetscInfo(NULL, "FFT plans %td x %td x %td: %.6g s\n", c->n[0], c->n[1], c->n[2], c->plan_time));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetLayout(PdFFTConv c, const PdLayout **lay)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  *lay = c->lay;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetWork(PdFFTConv c, float **work)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  *work = c->work;
  PetscFunctionReturn(0);
}

/* The plane of the stored OTF that holds kz: its mirror n0 - kz past n0/2 when only half is kept. */
static inline ptrdiff_t OTFPlane(PdFFTConv c, ptrdiff_t kz) { return c->otf_zhalf && kz > c->n[0] / 2 ? c->n[0] - kz : kz; }
static inline ptrdiff_t OTFPlanes(PdFFTConv c) { return c->otf_zhalf ? c->n[0] / 2 + 1 : c->n[0]; }

/* Where the values of block b of spectral rows (ZBlockGet) at kz start in the stored OTF (own)
   or in a complex spectrum in (kz, ky, kx) order (a filter), in complex or real values. The OTF
   in blocks: the block's planes one after the other, so that the product reads it as one stream
   per block instead of a short run per kz. */
static inline ptrdiff_t OTFRun(PdFFTConv c, PetscBool own, ptrdiff_t b, ptrdiff_t kz)
{
  const ptrdiff_t r0 = b * c->zblk, m = PetscMin(c->zblk, c->nky - r0) * c->nc;
  if (!own) return kz * c->nky * c->nc + r0 * c->nc;
  return c->otf_blocked ? r0 * c->nc * OTFPlanes(c) + OTFPlane(c, kz) * m : OTFPlane(c, kz) * c->nky * c->nc + r0 * c->nc;
}

ptrdiff_t PdFFTConvOTFStoredIndex(PdFFTConv c, ptrdiff_t i)
{
  const ptrdiff_t cols = c->nky * c->nc;
  if (!cols) return i;
  const ptrdiff_t kz = i / cols, r = i % cols, b = c->zblk ? (r / c->nc) / c->zblk : 0;
  return OTFRun(c, PETSC_TRUE, b, kz) + r - b * c->zblk * c->nc;
}

/* OTF = spectrum / N, allocated on first use: complex, or only its real part when `real`, and
   then only kz <= n0/2 when `zhalf` (OTF(kz) = OTF(n0 - kz) for a PSF symmetric in z); in blocks
   when `blocked` (PdFFTConvOTFStoredIndex). */
static PetscErrorCode StoreOTF(PdFFTConv c, PetscBool real, PetscBool zhalf, PetscBool blocked)
{
  const float     scale = (float)(1.0 / ((double)c->n[0] * (double)c->n[1] * (double)c->n[2]));
  const ptrdiff_t nval  = zhalf ? (c->n[0] / 2 + 1) * c->nky * c->nc : c->ncplx;
  const size_t    nf    = (size_t)PetscMax(nval, 1) * (real ? 1 : 2);

  PetscFunctionBegin;
  if (c->otf && (c->otf_real != real || c->otf_zhalf != zhalf)) {
    PetscCall(PdVolumeFree(&c->otf));
  }
  if (!c->otf) PetscCall(PdVolumeAlloc(nf, &c->otf));
  c->otf_real    = real;
  c->otf_zhalf   = zhalf;
  c->otf_blocked = blocked;
  const float *restrict s = c->spec;
  float *restrict       h = c->otf;
  /* the stored planes kz < nval / cols, each row by row into its place */
  for (ptrdiff_t i = 0; i < nval; i += c->nc) {
    const ptrdiff_t j = PdFFTConvOTFStoredIndex(c, i);
    if (real)
      for (ptrdiff_t k = 0; k < c->nc; k++) h[j + k] = s[2 * (i + k)] * scale;
    else
      for (ptrdiff_t k = 0; k < 2 * c->nc; k++) h[2 * j + k] = s[2 * i + k] * scale;
  }
  PetscFunctionReturn(0);
}

/* A real or blocked OTF stored as complex in (kz, ky, kx) order again, for a caller that reads
   that layout. */
static PetscErrorCode ExpandOTF(PdFFTConv c)
{
  float *h;

  PetscFunctionBegin;
  if (!c->otf || (!c->otf_real && !c->otf_blocked)) PetscFunctionReturn(0);
  PetscCall(PdVolumeAlloc((size_t)PetscMax(c->ncplx, 1) * 2, &h));
  for (ptrdiff_t i = 0; i < c->ncplx; i++) {
    const ptrdiff_t j = PdFFTConvOTFStoredIndex(c, i);
    h[2 * i]          = c->otf_real ? c->otf[j] : c->otf[2 * j];
    h[2 * i + 1]      = c->otf_real ? 0.0f : c->otf[2 * j + 1];
  }
  PetscCall(PdVolumeFree(&c->otf));
  c->otf         = h;
  c->otf_real    = PETSC_FALSE;
  c->otf_zhalf   = PETSC_FALSE;
  c->otf_blocked = PETSC_FALSE;
  PetscCall(PetscInfo(NULL, "the OTF is stored as complex in (kz, ky, kx) order for a caller that reads it\n"));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetRealOTF(PdFFTConv c, PetscBool allow)
{
  PetscFunctionBegin;
  c->allow_real = allow;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetOTFIsReal(PdFFTConv c, PetscBool *real)
{
  PetscFunctionBegin;
  *real = c->otf_real;
  PetscFunctionReturn(0);
}

/* Offset of the mirror image of PSF index i about the centre c, wrapped as in a working size n
   (pn <= n, so at most one PSF index lands there), or -1 outside the PSF. */
static inline ptrdiff_t Mirror(ptrdiff_t i, ptrdiff_t c, ptrdiff_t pn, ptrdiff_t n)
{
  const ptrdiff_t j = ((2 * c - i) % n + n) % n;
  return j < pn ? j : -1;
}

PetscErrorCode PdFFTConvPSFIsCentrosymmetric(const ptrdiff_t n[3], const ptrdiff_t pn[3], const float *psf, const ptrdiff_t center[3], PetscBool *sym)
{
  double asym = 0, total = 0;

  PetscFunctionBegin;
  for (ptrdiff_t k = 0; k < pn[0]; k++) {
    const ptrdiff_t mk = Mirror(k, center[0], pn[0], n[0]);
    for (ptrdiff_t j = 0; j < pn[1]; j++) {
      const ptrdiff_t mj = Mirror(j, center[1], pn[1], n[1]);
      for (ptrdiff_t i = 0; i < pn[2]; i++) {
        const ptrdiff_t mi = Mirror(i, center[2], pn[2], n[2]);
        const double    v  = psf[(k * pn[1] + j) * pn[2] + i];
        const double    mv = (mk < 0 || mj < 0 || mi < 0) ? 0.0 : psf[(mk * pn[1] + mj) * pn[2] + mi];
        asym += fabs(v - mv);
        total += fabs(v);
      }
    }
  }
  /* |Im OTF(k)| = |Σ_r (h(r) - h(-r)) sin(k·r)| / 2 <= asym / 2, and max |Re OTF| = Σ h: below
     1e-6 of it the imaginary part is float rounding */
  *sym = (PetscBool)(0.5 * asym <= 1e-6 * total);
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvPSFIsZSymmetric(const ptrdiff_t n[3], const ptrdiff_t pn[3], const float *psf, const ptrdiff_t center[3], PetscBool *sym)
{
  double asym = 0, total = 0;

  PetscFunctionBegin;
  for (ptrdiff_t k = 0; k < pn[0]; k++) {
    const ptrdiff_t mk = Mirror(k, center[0], pn[0], n[0]);
    for (ptrdiff_t j = 0; j < pn[1] * pn[2]; j++) {
      const double v = psf[k * pn[1] * pn[2] + j], mv = mk < 0 ? 0.0 : psf[mk * pn[1] * pn[2] + j];
      asym += fabs(v - mv);
      total += fabs(v);
    }
  }
  /* |OTF(kz) - OTF(-kz)| <= Σ_r |h(z, y, x) - h(-z, y, x)|: the same bound as above */
  *sym = (PetscBool)(0.5 * asym <= 1e-6 * total);
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetPSF(PdFFTConv c, const ptrdiff_t pn[3], const float *psf, const ptrdiff_t center[3])
{
  const PdLayout *l;

  PetscFunctionBegin;
  c->planes = PETSC_FALSE; /* the buffer is taken as real values (or a spectrum) */
  PetscCall(PdFFTConvSetUp(c));
  l = c->lay;
  for (int d = 0; d < 3; d++) {
    PetscCheck(pn[d] <= c->n[d], c->comm, PD_ERR_INPUT, "PSF (%td x %td x %td) larger than the working volume (%td x %td x %td)", pn[0], pn[1], pn[2], c->n[0], c->n[1], c->n[2]);
    PetscCheck(center[d] >= 0 && center[d] < pn[d], c->comm, PETSC_ERR_ARG_OUTOFRANGE, "PSF centre outside the PSF");
  }
  /* Scatter the PSF into the working volume with its centre at the origin (wrapped). */
  memset(c->work, 0, sizeof(float) * c->nwork);
  for (ptrdiff_t k = 0; k < pn[0]; k++) {
    ptrdiff_t z = ((k - center[0]) % c->n[0] + c->n[0]) % c->n[0];
    if (z < l->z0 || z >= l->z0 + l->nzl) continue;
    for (ptrdiff_t j = 0; j < pn[1]; j++) {
      ptrdiff_t y = ((j - center[1]) % c->n[1] + c->n[1]) % c->n[1];
      for (ptrdiff_t i = 0; i < pn[2]; i++) {
        ptrdiff_t x = ((i - center[2]) % c->n[2] + c->n[2]) % c->n[2];
        c->work[(z - l->z0) * l->ps + y * l->rs + x] = psf[(k * pn[1] + j) * pn[2] + i];
      }
    }
  }
  PetscBool real = PETSC_FALSE, zsym = PETSC_FALSE;
  if (c->allow_real) PetscCall(PdFFTConvPSFIsCentrosymmetric(c->n, pn, psf, center, &real));
  if (real) PetscCall(PdFFTConvPSFIsZSymmetric(c->n, pn, psf, center, &zsym));
  PetscCall(PdFFTConvForward(c));
  PetscCall(StoreOTF(c, real, zsym, c->allow_real));
  memset(c->work, 0, sizeof(float) * c->nwork);
  PetscFunctionReturn(0);
}

/* w <- g · w for m complex values w and a real transfer function g (a real g is its own
   conjugate: half the reads). Cloned for wider vectors: a product has no sum for the compiler to
   fuse, so every build gives the same values in the vector body and the remainder. */
PD_TARGET_CLONES static void ProductReal(float *restrict w, const float *restrict g, ptrdiff_t m)
{
#pragma omp simd
  for (ptrdiff_t i = 0; i < m; i++) {
    w[2 * i] *= g[i];
    w[2 * i + 1] *= g[i];
  }
}

/* w <- g · w (s = -1: conj(g) · w) for the complex values of `rows` spectral rows of nc each,
   written out on interleaved (re, im) floats (C's complex multiply carries NaN/Inf recovery code
   that keeps it from vectorising). Row by row on purpose: the vectoriser fuses the vector body's
   products into multiply-adds (vfmaddsub) but not the remainder's, so a value's result depends
   on where it lies in the loop; in a loop over one row that is its kx, the same on every rank,
   where in a loop over a block of rows it would depend on where the rank's rows start. */
PD_TARGET_CLONES static void ProductComplex(float *restrict w, const float *restrict g, ptrdiff_t rows, ptrdiff_t nc, float s)
{
  for (ptrdiff_t r = 0; r < rows; r++) {
    float *restrict       wr = w + 2 * r * nc;
    const float *restrict gr = g + 2 * r * nc;
#pragma omp simd
    for (ptrdiff_t i = 0; i < nc; i++) {
      const float a = wr[2 * i], bb = wr[2 * i + 1], hr = gr[2 * i], hi = s * gr[2 * i + 1];
      wr[2 * i]     = a * hr - bb * hi;
      wr[2 * i + 1] = a * hi + bb * hr;
    }
  }
}

static inline void Product(float *restrict w, const float *restrict g, ptrdiff_t m, ptrdiff_t nc, float s, PetscBool real)
{
  if (real) ProductReal(w, g, m);
  else ProductComplex(w, g, m / nc, nc, s);
}

/* The spectrum (in the slots) along kz, block by block of spectral rows: transform, multiply by
   the transfer function G = h (stored divided by N; conjugated when s = -1) and transform back
   while the block is in cache (one pass over the spectrum instead of three). h: the OTF as
   stored when `own`, else a complex spectrum in (kz, ky, kx) order; NULL: the transforms alone
   (PdFFTConvRoundTrip). Logged with the pointwise work. */
static PetscErrorCode FilterColumns(PdFFTConv c, const float *restrict h, float s, PetscBool own)
{
  const ptrdiff_t nz = c->n[0], nblk = ZBlocks(c);
  const PetscBool real = (PetscBool)(own && c->otf_real);

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
  for (ptrdiff_t b = 0; b < nblk; b++) {
    const ptrdiff_t r0 = b * c->zblk, m = PetscMin(c->zblk, c->nky - r0) * c->nc;
    const PdKzPlan *p;
    ptrdiff_t       stride;
    fftwf_complex  *blk = ZBlockGet(c, b, nblk, omp_get_thread_num(), &stride, &p);
    ZBlockTransform(&p[0], blk);
    for (ptrdiff_t kz = 0; h && kz < nz; kz++) Product((float *)(blk + kz * stride), h + (real ? 1 : 2) * OTFRun(c, own, b, kz), m, c->nc, s, real);
    ZBlockTransform(&p[1], blk);
    ZBlockPut(c, b, blk);
  }
  if (h) PetscCall(PetscLogFlops((real ? 2.0 : 6.0) * c->ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* The transfer function of `a` and how FilterColumns takes it. */
static PetscErrorCode Transfer(PdFFTConv c, PdFFTApply a, const float **h, float *s, PetscBool *own)
{
  PetscFunctionBegin;
  if (a == PD_FFT_APPLY_FILTER) {
    PetscCheck(c->filter, c->comm, PETSC_ERR_ORDER, "call PdFFTConvGetFilter and fill the filter first");
    *h = (const float *)c->filter, *s = 1.0f, *own = PETSC_FALSE;
  } else {
    PetscCheck(c->otf, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetPSF first");
    *h = c->otf, *s = a == PD_FFT_APPLY_HT ? -1.0f : 1.0f, *own = PETSC_TRUE; /* Hᵀ: the conjugate OTF */
  }
  PetscFunctionReturn(0);
}

/* work <- F⁻¹(G · F(work)) (FilterColumns). */
static PetscErrorCode ApplySpectral(PdFFTConv c, const float *restrict h, float s, PetscBool own)
{
  PetscFunctionBegin;
  c->planes = PETSC_FALSE; /* the buffer is taken as real values (or a spectrum) */
  PetscCall(PetscLogEventBegin(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscCall(PdFFTPlanesForward(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscCall(FilterColumns(c, h, s, own));
  PetscCall(PetscLogEventBegin(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscCall(PdFFTPlanesInverse(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* From the planes' forward transforms where the previous call left them, and leaving them with
   `keep`. */
PetscErrorCode PdFFTConvApplyTwoPlanes(PdFFTConv c, PdFFTApply first, PdFFTPlaneFn between, void *ctx, PdFFTApply second, PetscBool keep)
{
  const float *h1 = NULL, *h2 = NULL;
  float        s1 = 1.0f, s2 = 1.0f;
  PetscBool    own1 = PETSC_FALSE, own2 = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(Transfer(c, first, &h1, &s1, &own1));
  PetscCall(Transfer(c, second, &h2, &s2, &own2));
  PetscCheck(!c->planes || !c->fwd_plane_fn, c->comm, PETSC_ERR_ARG_INCOMP, "a forward plane function cannot run on planes already transformed");
  if (!c->planes) {
    PetscCall(PetscLogEventBegin(PD_EV_FFT_FWD, 0, 0, 0, 0));
    PetscCall(PdFFTPlanesForward(c));
    PetscCall(PetscLogEventEnd(PD_EV_FFT_FWD, 0, 0, 0, 0));
  }
  PetscCall(FilterColumns(c, h1, s1, own1));
  PetscCall(PdFFTPlanesBetween(c, between, ctx));
  PetscCall(FilterColumns(c, h2, s2, own2));
  if (keep) PetscCall(PdFFTPlanesBetween(c, c->plane_fn, c->plane_ctx)); /* the next call's forward plane transforms, in cache */
  else {
    PetscCall(PetscLogEventBegin(PD_EV_FFT_INV, 0, 0, 0, 0));
    PetscCall(PdFFTPlanesInverse(c));
    PetscCall(PetscLogEventEnd(PD_EV_FFT_INV, 0, 0, 0, 0));
  }
  c->planes = keep;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvApplyTwo(PdFFTConv c, PdFFTApply first, PdFFTPlaneFn between, void *ctx, PdFFTApply second)
{
  PetscFunctionBegin;
  c->planes = PETSC_FALSE; /* the caller wrote real values */
  PetscCall(PdFFTConvApplyTwoPlanes(c, first, between, ctx, second, PETSC_FALSE));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvDropPlanes(PdFFTConv c)
{
  PetscFunctionBegin;
  c->planes = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvApply(PdFFTConv c, PetscBool transpose)
{
  const float *h   = NULL;
  float        s   = 1.0f;
  PetscBool    own = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(Transfer(c, transpose ? PD_FFT_APPLY_HT : PD_FFT_APPLY_H, &h, &s, &own));
  PetscCall(ApplySpectral(c, h, s, own));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvRoundTrip(PdFFTConv c)
{
  PdFFTPlaneFn inv = c->plane_fn, fwd = c->fwd_plane_fn;

  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  c->plane_fn = c->fwd_plane_fn = NULL; /* the bare transforms */
  if (!c->planes) PetscCall(ApplySpectral(c, NULL, 1.0f, PETSC_FALSE));
  else { /* the same transforms from where a chain of PdFFTConvApplyTwoPlanes left the buffer, back there */
    PetscCall(FilterColumns(c, NULL, 1.0f, PETSC_FALSE));
    PetscCall(PdFFTPlanesInverseThenForward(c)); /* unfused: the bare transforms */
  }
  c->plane_fn = inv, c->fwd_plane_fn = fwd;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetFilter(PdFFTConv c, float **filter)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  if (!c->filter) {
    c->filter = fftwf_alloc_complex((size_t)PetscMax(c->ncplx, 1));
    PetscCheck(c->filter, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate the second spectral filter");
    memset(c->filter, 0, sizeof(fftwf_complex) * (size_t)PetscMax(c->ncplx, 1));
  }
  *filter = (float *)c->filter;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvApplyFilter(PdFFTConv c)
{
  const float *h   = NULL;
  float        s   = 1.0f;
  PetscBool    own = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(Transfer(c, PD_FFT_APPLY_FILTER, &h, &s, &own));
  PetscCall(ApplySpectral(c, h, s, own));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvDestroyFilter(PdFFTConv c)
{
  PetscFunctionBegin;
  if (c->filter) fftwf_free(c->filter);
  c->filter = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetSpectrum(PdFFTConv c, float **spec)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  *spec = c->spec;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetSpectralLayout(PdFFTConv c, ptrdiff_t *ncplx, ptrdiff_t *ky0, ptrdiff_t *nky)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  if (ncplx) *ncplx = c->ncplx;
  if (ky0) *ky0 = c->ky0;
  if (nky) *nky = c->nky;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetOTF(PdFFTConv c, const float **otf, double *N)
{
  PetscFunctionBegin;
  PetscCheck(c->otf, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetPSF first");
  if (otf) PetscCall(ExpandOTF(c)); /* the caller reads the complex layout */
  if (otf) *otf = c->otf;
  if (N) *N = (double)c->n[0] * (double)c->n[1] * (double)c->n[2];
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetOTFStored(PdFFTConv c, const float **otf, PetscBool *real, double *N)
{
  PetscFunctionBegin;
  PetscCheck(c->otf, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetPSF first");
  *otf  = c->otf;
  *real = c->otf_real;
  if (N) *N = (double)c->n[0] * (double)c->n[1] * (double)c->n[2];
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvDiffSymbol(PdFFTConv c, const double w[3], float *sym)
{
  const ptrdiff_t nx = c->nc;
  double         *sx, *sy, *sz;

  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PetscMalloc3(c->n[0], &sz, c->n[1], &sy, nx, &sx));
  for (ptrdiff_t k = 0; k < c->n[0]; k++) sz[k] = 4 * w[0] * w[0] * PetscSqr(sin(PETSC_PI * k / c->n[0]));
  for (ptrdiff_t k = 0; k < c->n[1]; k++) sy[k] = 4 * w[1] * w[1] * PetscSqr(sin(PETSC_PI * k / c->n[1]));
  for (ptrdiff_t k = 0; k < nx; k++) sx[k] = 4 * w[2] * w[2] * PetscSqr(sin(PETSC_PI * k / c->n[2]));
  for (ptrdiff_t k = 0; k < c->n[0]; k++)
    for (ptrdiff_t j = 0; j < c->nky; j++)
      for (ptrdiff_t i = 0; i < nx; i++) sym[(k * c->nky + j) * nx + i] = (float)(sz[k] + sy[c->ky0 + j] + sx[i]);
  PetscCall(PetscFree3(sz, sy, sx));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetPlanTime(PdFFTConv c, double *seconds, PetscBool *wisdom_used)
{
  PetscFunctionBegin;
  if (seconds) *seconds = c->plan_time;
  if (wisdom_used) *wisdom_used = c->wisdom[0] ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvView(PdFFTConv c, PetscViewer v)
{
  const char *pl = c->planner == FFTW_ESTIMATE ? "estimate" : c->planner == FFTW_PATIENT ? "patient" : "measure";

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "FFT: %td x %td x %td working volume, planner %s, plans made in %.3g s%s%s\n", c->n[0], c->n[1], c->n[2], pl, c->plan_time,
                                   c->wisdom[0] ? ", wisdom " : "", c->wisdom));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvDestroy(PdFFTConv *c)
{
  PetscFunctionBegin;
  if (!*c) PetscFunctionReturn(0);
  if ((*c)->plane_fwd) fftwf_destroy_plan((*c)->plane_fwd);
  if ((*c)->plane_inv) fftwf_destroy_plan((*c)->plane_inv);
  for (int d = 0; d < 2; d++) {
    PdKzPlan *p[2] = {&(*c)->zb[d], &(*c)->zr[d]};
    for (int k = 0; k < 2; k++) {
      if (p[k]->body) fftwf_destroy_plan(p[k]->body);
      if (p[k]->tail) fftwf_destroy_plan(p[k]->tail);
    }
  }
  PetscCall(PdVolumeFree(&(*c)->otf));
  PetscCall(PdFFTConvDestroyFilter(*c));
  if ((*c)->scratch)
    for (int t = 0; t < (*c)->nthreads + PD_FFT_RING - 1; t++) fftwf_free((*c)->scratch[t]);
  PetscCall(PetscFree((*c)->scratch));
  PetscCall(PdFFTBuffersDestroy(*c));
  PetscCall(PetscFree((*c)->ystart));
  PetscCall(PetscFree((*c)->prefix));
  if ((*c)->xcomm != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&(*c)->xcomm));
  PetscCall(PdLayoutDestroy(&(*c)->lay));
  PetscCall(PetscFree(*c));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetOTFFromWork(PdFFTConv c)
{
  PetscFunctionBegin;
  c->planes = PETSC_FALSE; /* the buffer is taken as real values (or a spectrum) */
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PdFFTConvForward(c));
  PetscCall(StoreOTF(c, PETSC_FALSE, PETSC_FALSE, c->allow_real)); /* an estimated PSF: no symmetry to rely on */
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSwapOTF(PdFFTConv c, float **otf)
{
  float *prev;

  PetscFunctionBegin;
  PetscCall(ExpandOTF(c)); /* the caller's OTFs are complex */
  prev   = c->otf;
  c->otf = *otf;
  *otf   = prev;
  PetscFunctionReturn(0);
}
