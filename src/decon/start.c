/* The initial estimate x_0 of the iterative methods (-decon_start), where the data can see the
   object (w = 1/Hᵀ(M·1) > 0; 0 elsewhere):

     flat    x_0 = x̄ = mean(y) − b                                   the mean flux per voxel
     smooth  x_0 = max(w · Hᵀ(M · (y − b)₊), f)                        the data back-projected
     data    x_0 = max(y − b, f) on the box M, the smooth start outside it

   with f = 10⁻³ x̄, the floor that keeps every estimated voxel positive (RL's update is
   multiplicative: a voxel that starts at 0 stays there). w · Hᵀ(M·c) = c for a constant c, so
   on constant data all three are the flat start. The smooth start costs one Hᵀ (two FFTs), the
   data start the same (the smooth values outside the box, where objects outside the field of
   view blur into it); starting near the data saves RL the iterations it spends bringing a flat
   start's flux to where the light is (docs/methods/rl.md has the measured gain). With several
   views the start is flat. */
#include "decon/decon_impl.h"

const char *const PdDeconStartTypes[] = {"flat", "data", "smooth", "PdDeconStart", "PD_START_", NULL};

#define PD_START_FLOOR 1e-3 /* of the flat value */

/* work <- M · (y − b)₊: the data above the background on the box, zero elsewhere */
static void FillDataAboveBackground(PdDecon d)
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
    for (ptrdiff_t i = 0; i < l->rs; i++) x[i] = w[i] > 0 ? PetscMax(w[i] * s[i], f) : 0.0f;
    if (t == PD_START_DATA && z < d->blay->nzl && yy < m1) {
      const float *restrict yr = d->y + (z * m1 + yy) * m2;
      for (ptrdiff_t i = 0; i < m2; i++)
        if (w[i] > 0) x[i] = PetscMax(yr[i] - b, f);
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconStartEstimate(PdDecon d)
{
  const PdDeconStart t = d->nviews > 1 ? PD_START_FLAT : d->start;

  PetscFunctionBegin;
  if (t != PD_START_FLAT) {
    PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
    FillDataAboveBackground(d);
    PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
    PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));
  }
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(StartFromWork(d, t));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
