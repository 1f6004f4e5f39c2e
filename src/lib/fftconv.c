/* Distributed FFT convolution: plans, OTF, and the operators H and Hᵀ (see fftconv.h). */
#include <pdecon/fftconv.h>
#include <fftw3-mpi.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _p_PdFFTConv {
  MPI_Comm        comm;
  ptrdiff_t       n[3];
  unsigned        planner;      /* FFTW_ESTIMATE / FFTW_MEASURE / FFTW_PATIENT */
  char            wisdom[PETSC_MAX_PATH_LEN]; /* "" = no wisdom file */
  PdLayout       *lay;          /* real-space slabs of the work buffer */
  ptrdiff_t       nyl_t, y0_t;  /* spectral slabs (over y, transposed layout) */
  ptrdiff_t       alloc;        /* complex values per rank in the work buffer and OTF */
  float          *work;         /* in-place transform buffer: 2*alloc floats */
  fftwf_complex  *otf;          /* alloc complex values; NULL until a PSF is set */
  fftwf_plan      fwd, inv;
  double          plan_time;
  PetscBool       wisdom_used, setup;
};

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

PetscErrorCode PdFFTConvCreate(MPI_Comm comm, PdFFTConv *c)
{
  const char *env = getenv("PDECON_WISDOM");
  const char *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCall(PetscNew(c));
  (*c)->comm    = comm;
  (*c)->planner = FFTW_MEASURE;
  if (env) PetscCall(PetscStrncpy((*c)->wisdom, strcmp(env, "none") ? env : "", sizeof((*c)->wisdom)));
  else if (xdg && xdg[0]) snprintf((*c)->wisdom, sizeof((*c)->wisdom), "%s/pdecon/fftwf.wisdom", xdg);
  else if (home && home[0]) snprintf((*c)->wisdom, sizeof((*c)->wisdom), "%s/.cache/pdecon/fftwf.wisdom", home);
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetFromOptions(PdFFTConv c)
{
  const char *planners[] = {"estimate", "measure", "patient"};
  PetscInt    which = c->planner == FFTW_ESTIMATE ? 0 : c->planner == FFTW_PATIENT ? 2 : 1;
  char        wis[PETSC_MAX_PATH_LEN];
  PetscBool   set;

  PetscFunctionBegin;
  PetscOptionsBegin(c->comm, NULL, "Distributed FFT convolution", "FFT");
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

PetscErrorCode PdFFTConvSetUp(PdFFTConv c)
{
  ptrdiff_t nzl, z0;
  double    t0;
  size_t    nw;

  PetscFunctionBegin;
  if (c->setup) PetscFunctionReturn(0);
  PetscCheck(c->n[0] > 0, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetSizes first");
  c->alloc = fftwf_mpi_local_size_3d_transposed(c->n[0], c->n[1], c->n[2] / 2 + 1, c->comm, &nzl, &z0, &c->nyl_t, &c->y0_t);
  PetscCall(PdLayoutCreate(c->comm, c->n, z0, nzl, 2 * (c->n[2] / 2 + 1), c->n[1] * 2 * (c->n[2] / 2 + 1), &c->lay));
  nw = (size_t)PetscMax(2 * c->alloc, 2);
  PetscCall(PdVolumeAlloc(nw, &c->work));
  PetscCall(PetscLogEventBegin(PD_EV_FFT_PLAN, 0, 0, 0, 0));
  t0 = PdTime();
  PetscCall(WisdomLoad(c));
  /* Planning with MEASURE overwrites the buffer: plans are made before any data goes in. */
  c->fwd = fftwf_mpi_plan_dft_r2c_3d(c->n[0], c->n[1], c->n[2], c->work, (fftwf_complex *)c->work, c->comm, c->planner | FFTW_MPI_TRANSPOSED_OUT);
  c->inv = fftwf_mpi_plan_dft_c2r_3d(c->n[0], c->n[1], c->n[2], (fftwf_complex *)c->work, c->work, c->comm, c->planner | FFTW_MPI_TRANSPOSED_IN);
  PetscCheck(c->fwd && c->inv, c->comm, PETSC_ERR_LIB, "FFTW could not plan a %td x %td x %td transform", c->n[0], c->n[1], c->n[2]);
  c->plan_time = PdTime() - t0;
  PetscCall(WisdomSave(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_PLAN, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &c->plan_time, 1, MPI_DOUBLE, MPI_MAX, c->comm));
  memset(c->work, 0, nw * sizeof(float));
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

PetscErrorCode PdFFTConvForward(PdFFTConv c)
{
  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_FFT_FWD, 0, 0, 0, 0));
  fftwf_mpi_execute_dft_r2c(c->fwd, c->work, (fftwf_complex *)c->work);
  PetscCall(PetscLogEventEnd(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvInverse(PdFFTConv c)
{
  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_FFT_INV, 0, 0, 0, 0));
  fftwf_mpi_execute_dft_c2r(c->inv, (fftwf_complex *)c->work, c->work);
  PetscCall(PetscLogEventEnd(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetPSF(PdFFTConv c, const ptrdiff_t pn[3], const float *psf, const ptrdiff_t center[3])
{
  const PdLayout *l;
  ptrdiff_t       ncplx;
  const double    scale = 1.0 / ((double)c->n[0] * (double)c->n[1] * (double)c->n[2]);

  PetscFunctionBegin;
  PetscCall(PdFFTConvSetUp(c));
  l = c->lay;
  for (int d = 0; d < 3; d++) {
    PetscCheck(pn[d] <= c->n[d], c->comm, PD_ERR_INPUT, "PSF (%td x %td x %td) larger than the working volume (%td x %td x %td)", pn[0], pn[1], pn[2], c->n[0], c->n[1], c->n[2]);
    PetscCheck(center[d] >= 0 && center[d] < pn[d], c->comm, PETSC_ERR_ARG_OUTOFRANGE, "PSF centre outside the PSF");
  }
  /* Scatter the PSF into the working volume with its centre at the origin (wrapped). */
  memset(c->work, 0, sizeof(float) * (size_t)(2 * PetscMax(c->alloc, 1)));
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
  PetscCall(PdFFTConvForward(c));
  if (!c->otf) c->otf = fftwf_alloc_complex((size_t)PetscMax(c->alloc, 1));
  PetscCheck(c->otf, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate the OTF");
  ncplx = c->nyl_t * c->n[0] * (c->n[2] / 2 + 1);
  const fftwf_complex *w = (const fftwf_complex *)c->work;
  for (ptrdiff_t i = 0; i < ncplx; i++) c->otf[i] = w[i] * (float)scale;
  memset(c->work, 0, sizeof(float) * (size_t)(2 * PetscMax(c->alloc, 1)));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvApply(PdFFTConv c, PetscBool transpose)
{
  const ptrdiff_t ncplx = c->nyl_t * c->n[0] * (c->n[2] / 2 + 1);
  float *restrict w = c->work;
  const float *restrict h = (const float *)c->otf;
  const float     s = transpose ? -1.0f : 1.0f; /* Hᵀ multiplies by the conjugate OTF */

  PetscFunctionBegin;
  PetscCheck(c->otf, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetPSF first");
  PetscCall(PdFFTConvForward(c));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  /* Complex product written out on interleaved (re, im) floats: C's complex multiply carries
     NaN/Inf recovery code that keeps it from vectorising. */
#pragma omp parallel for simd schedule(static)
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    const float a = w[2 * i], b = w[2 * i + 1], hr = h[2 * i], hi = s * h[2 * i + 1];
    w[2 * i]     = a * hr - b * hi;
    w[2 * i + 1] = a * hi + b * hr;
  }
  PetscCall(PetscLogFlops(6.0 * ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvInverse(c));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetSpectralLayout(PdFFTConv c, ptrdiff_t *ncplx, ptrdiff_t *ky0, ptrdiff_t *nky)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  if (ncplx) *ncplx = c->nyl_t * c->n[0] * (c->n[2] / 2 + 1);
  if (ky0) *ky0 = c->y0_t;
  if (nky) *nky = c->nyl_t;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvGetOTF(PdFFTConv c, const float **otf, double *N)
{
  PetscFunctionBegin;
  PetscCheck(c->otf, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetPSF first");
  if (otf) *otf = (const float *)c->otf;
  if (N) *N = (double)c->n[0] * (double)c->n[1] * (double)c->n[2];
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvDiffSymbol(PdFFTConv c, const double w[3], float *sym)
{
  const ptrdiff_t nx = c->n[2] / 2 + 1;
  double         *sx, *sy, *sz;

  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PetscMalloc3(c->n[0], &sz, c->n[1], &sy, nx, &sx));
  for (ptrdiff_t k = 0; k < c->n[0]; k++) sz[k] = 4 * w[0] * w[0] * PetscSqr(sin(PETSC_PI * k / c->n[0]));
  for (ptrdiff_t k = 0; k < c->n[1]; k++) sy[k] = 4 * w[1] * w[1] * PetscSqr(sin(PETSC_PI * k / c->n[1]));
  for (ptrdiff_t k = 0; k < nx; k++) sx[k] = 4 * w[2] * w[2] * PetscSqr(sin(PETSC_PI * k / c->n[2]));
  for (ptrdiff_t j = 0; j < c->nyl_t; j++)
    for (ptrdiff_t k = 0; k < c->n[0]; k++)
      for (ptrdiff_t i = 0; i < nx; i++) sym[(j * c->n[0] + k) * nx + i] = (float)(sy[c->y0_t + j] + sz[k] + sx[i]);
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
  if ((*c)->fwd) fftwf_destroy_plan((*c)->fwd);
  if ((*c)->inv) fftwf_destroy_plan((*c)->inv);
  if ((*c)->otf) fftwf_free((*c)->otf);
  PetscCall(PdVolumeFree(&(*c)->work));
  PetscCall(PdLayoutDestroy(&(*c)->lay));
  PetscCall(PetscFree(*c));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetOTFFromWork(PdFFTConv c)
{
  ptrdiff_t    ncplx;
  const double scale = 1.0 / ((double)c->n[0] * (double)c->n[1] * (double)c->n[2]);

  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PdFFTConvForward(c));
  if (!c->otf) c->otf = fftwf_alloc_complex((size_t)PetscMax(c->alloc, 1));
  PetscCheck(c->otf, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate the OTF");
  ncplx = c->nyl_t * c->n[0] * (c->n[2] / 2 + 1);
  const fftwf_complex *w = (const fftwf_complex *)c->work;
  for (ptrdiff_t i = 0; i < ncplx; i++) c->otf[i] = w[i] * (float)scale;
  PetscFunctionReturn(0);
}
