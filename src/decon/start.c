/* The initial estimate x_0 of the iterative methods (-decon_start), where the data can see the
   object (w = 1/Hᵀ(M·1) > 0; 0 elsewhere):

     flat    x_0 = x̄ = mean(y) − b                                   the mean flux per voxel
     smooth  x_0 = max(w · Hᵀ(M · (y − b)₊), f)                        the data back-projected
     data    x_0 = max(y − b, f) on the box M, the smooth start outside it
     wiener  x_0 = max(F⁻¹[ conj(Ĥ) F(ỹ) / (|Ĥ|² + K) ], f)                the data's Wiener filter
                  ỹ = (y − b)₊ on the box, x̄ outside it (no edge down to 0 at the box's faces)
     coarse  the problem binned 2 x 2 laterally, solved by the same method, interpolated back
                  (start_coarse.c has its equations); wiener where the binned PSF would not fit

   with f = 10⁻³ x̄, the floor that keeps every estimated voxel positive (RL's update is
   multiplicative: a voxel that starts at 0 stays there), and K = -decon_start_wiener_k (1e-3,
   the Wiener method's default for widefield data near 20 dB). w · Hᵀ(M·c) = c for a constant c,
   so on constant data flat, data and smooth agree. Each start but flat costs two FFTs, half an
   RL iteration. Starting near the data saves RL the iterations it spends moving a flat start's
   flux to where the light is; the Wiener start has already undone most of the blur the first
   RL iterations would; the coarse start runs the first iterations themselves on a quarter of
   the voxels (docs/methods/acceleration.md has the measured gains). With several views the
   start is flat. */
#include "decon/decon_impl.h"

const char *const PdDeconStartTypes[] = {"flat", "data", "smooth", "wiener", "coarse", "PdDeconStart", "PD_START_", NULL};

#define PD_START_FLOOR 1e-3 /* of the flat value */

/* work <- (y − b)₊ on the box, fill elsewhere (0 on the row padding) */
static void FillDataAboveBackground(PdDecon d, float fill)
{
  const PdLayout *l  = d->lay;
  const ptrdiff_t m1 = d->m[1], m2 = d->m[2], n1 = l->n[1], nrows = l->nzl * n1;
  const float     b  = (float)d->bg;

#pragma omp parallel for schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t z = row / n1, yy = row % n1;
    float *restrict r = d->work + z * l->ps + yy * l->rs;
    ptrdiff_t       x = 0;
    if (z < d->blay->nzl && yy < m1) {
      const float *restrict yr = d->y + (z * m1 + yy) * m2;
#pragma omp simd
      for (x = 0; x < m2; x++) r[x] = yr[x] > b ? yr[x] - b : 0.0f;
    }
    for (; x < l->n[2]; x++) r[x] = fill;
    for (; x < l->rs; x++) r[x] = 0.0f;
  }
}

/* x <- the start of type t, row by row where the weights are positive */
static PetscErrorCode StartFromWork(PdDecon d, PdDeconStart t)
{
  const PdLayout *l  = d->lay;
  const ptrdiff_t m1 = d->m[1], m2 = d->m[2], n1 = l->n[1], nrows = l->nzl * n1;
  const float     flat = (float)d->x0, f = (float)(PD_START_FLOOR * d->x0), b = (float)d->bg;

  PetscFunctionBegin;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t z = row / n1, yy = row % n1;
    const float *restrict w = PdDeconWeightsRow(d, z, yy), *restrict s = d->work + z * l->ps + yy * l->rs;
    float *restrict x = d->x + z * l->ps + yy * l->rs;
    if (t == PD_START_FLAT) {
      for (ptrdiff_t i = 0; i < l->rs; i++) x[i] = w[i] > 0 ? flat : 0.0f;
      continue;
    }
    if (t == PD_START_WIENER) {
      for (ptrdiff_t i = 0; i < l->rs; i++) x[i] = w[i] > 0 ? PetscMax(s[i], f) : 0.0f;
      continue;
    }
    for (ptrdiff_t i = 0; i < l->rs; i++) x[i] = w[i] > 0 ? PetscMax(w[i] * s[i], f) : 0.0f;
    if (t == PD_START_DATA && z < d->blay->nzl && yy < m1) {
      const float *restrict yr = d->y + (z * m1 + yy) * m2;
      for (ptrdiff_t i = 0; i < m2; i++)
        if (w[i] > 0) x[i] = PetscMax(yr[i] - b, f);
    }
  }
  PetscFunctionReturn(0);
}

/* spectrum <- spectrum conj(H) / (N (|H|² + K)) */
static PetscErrorCode WienerSpectrum(PdDecon d, double K)
{
  const float    *otf;
  double          N;
  ptrdiff_t       ncplx;
  PetscBool       real;
  float *restrict sp = d->spec;

  PetscFunctionBegin;
  /* as stored: a real OTF (a centro-symmetric PSF) stays half the size */
  PetscCall(PdFFTConvGetOTFStored(d->conv, &otf, &real, &N));
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    const ptrdiff_t j  = PdFFTConvOTFStoredIndex(d->conv, i);
    const double    hr = N * otf[real ? j : 2 * j], hi = real ? 0.0 : N * otf[2 * j + 1], f = 1.0 / (N * (hr * hr + hi * hi + K)), yr = sp[2 * i], yi = sp[2 * i + 1];
    sp[2 * i]     = (float)((yr * hr + yi * hi) * f);
    sp[2 * i + 1] = (float)((yi * hr - yr * hi) * f);
  }
  PetscFunctionReturn(0);
}

PdDeconStart PdDeconStartType(PdDecon d)
{
  if (d->nviews > 1) return PD_START_FLAT;
  return d->start_set ? d->start : d->ops->default_start;
}

PetscErrorCode PdDeconStartEstimate(PdDecon d)
{
  PdDeconStart t = PdDeconStartType(d);

  PetscFunctionBegin;
  if (t == PD_START_COARSE) {
    PetscBool done = PETSC_FALSE;
    /* a restart's checkpoint replaces the start: the binned solve would be wasted */
    if (d->restart[0]) {
      PetscCall(StartFromWork(d, PD_START_FLAT));
      PetscFunctionReturn(0);
    }
    PetscCall(PdStartCoarse.estimate(d, &done));
    if (done) PetscFunctionReturn(0);
    t = PD_START_WIENER; /* no binned problem (its PSF does not fit): the start it would begin from */
  }
  if (t != PD_START_FLAT) {
    PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
    /* the Wiener filter sees the flat value beyond the box, not an edge down to 0 */
    FillDataAboveBackground(d, t == PD_START_WIENER ? (float)d->x0 : 0.0f);
    PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  }
  if (t == PD_START_WIENER) {
    PetscCall(PdFFTConvForward(d->conv));
    PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
    PetscCall(WienerSpectrum(d, d->start_k));
    PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
    PetscCall(PdFFTConvInverse(d->conv));
  } else if (t != PD_START_FLAT) PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE)); /* Hᵀ */
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(StartFromWork(d, t));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
