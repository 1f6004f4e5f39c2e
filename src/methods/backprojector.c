/* Pieces shared by the unmatched back projectors of rl_wb.c and rl_omw.c (see
   backprojector_impl.h and docs/methods/unmatched.md). */
#include "methods/backprojector_impl.h"

PetscErrorCode PdBPGridGet(PdDecon d, PdBPGrid *g)
{
  double mx = 0;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &g->ncplx, &g->ky0, &g->nky));
  PetscCall(PdFFTConvGetOTF(d->conv, &g->otf, &g->N));
  PetscCall(PdFFTConvGetFilter(d->conv, &g->B));
  for (int a = 0; a < 3; a++) g->n[a] = d->lay->n[a];
  g->nc = g->n[2] / 2 + 1;
  for (ptrdiff_t i = 0; i < g->ncplx; i++) mx = PetscMax(mx, hypot((double)g->otf[2 * i], (double)g->otf[2 * i + 1]));
  PetscCall(PdAllreduceMax(d->comm, &mx, 1));
  PetscCheck(mx > 0, d->comm, PD_ERR_INPUT, "%s: the PSF's transfer function is zero", d->psfname);
  g->peak = g->N * mx;
  PetscFunctionReturn(0);
}

PetscErrorCode PdBPSupportExtent(MPI_Comm comm, const PdBPGrid *g, double ratio, double e[3])
{
  PetscFunctionBegin;
  e[0] = e[1] = e[2] = 0;
  for (ptrdiff_t i = 0; i < g->ncplx; i++) {
    double o[2], f[3];
    PdBPOTF(g, i, o);
    if (hypot(o[0], o[1]) < ratio) continue;
    PdBPFrequency(g, i, f);
    for (int a = 0; a < 3; a++) e[a] = PetscMax(e[a], fabs(f[a]));
  }
  PetscCall(PdAllreduceMax(comm, e, 3));
  /* an axis of one voxel has no frequency but 0; elsewhere at least one frequency step */
  for (int a = 0; a < 3; a++) e[a] = g->n[a] > 1 ? PetscMax(e[a], 1.0 / (double)g->n[a]) : 1.0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdBPNormalize(MPI_Comm comm, const PdBPGrid *g)
{
  double b0 = 0;
  int    rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) b0 = g->B[0]; /* rank 0 holds ky = 0 (every rank holds kz = kx = 0) */
  PetscCall(PdAllreduceSum(comm, &b0, 1));
  PetscCheck(b0 > 0, comm, PD_ERR_INPUT, "back projector: zero or negative gain at zero frequency (%g)", b0);
  const float s = (float)(1.0 / (b0 * g->N));
  for (ptrdiff_t i = 0; i < 2 * g->ncplx; i++) g->B[i] *= s;
  PetscFunctionReturn(0);
}

PetscErrorCode PdBPMatched(const PdBPGrid *g)
{
  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < g->ncplx; i++) {
    g->B[2 * i]     = g->otf[2 * i];
    g->B[2 * i + 1] = -g->otf[2 * i + 1];
  }
  PetscFunctionReturn(0);
}

void PdBPInvalidate(PdDecon d)
{
  d->prepared      = PETSC_FALSE;
  d->weights_ready = PETSC_FALSE;
}

PetscErrorCode PdBPSetUp(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PdMethod_RL.setup(d));
  PetscFunctionReturn(0);
}

PetscErrorCode PdBPStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  float *restrict       x = d->x, *restrict work = d->work;
  const float *restrict w = d->w;
  const float           restart = (float)d->eps;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  double                s[2] = {0, 0}; /* ||x_{k+1} - x_k||², ||x_k||² */

  PetscFunctionBegin;
  PetscCall(PdRLCorrection(d, want_obj, obj)); /* B in place of Hᵀ */
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  double s0 = 0, s1 = 0;
#pragma omp parallel for simd reduction(+ : s0, s1) schedule(static)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    float xn = x[i] * work[i] * w[i];
    xn       = xn < 0 ? restart : xn;
    float dx = xn - x[i];
    s0 += (double)dx * dx;
    s1 += (double)x[i] * x[i];
    x[i]    = xn;
    work[i] = xn;
  }
  PetscCall(PetscLogFlops(6.0 * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  s[0] = s0;
  s[1] = s1;
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  PetscFunctionReturn(0);
}
