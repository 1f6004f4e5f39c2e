/* Richardson-Lucy with Bertero-Boccacci boundary weights.

     x_{k+1} = x_k · Hᵀ( M·y / (H x_k + b) ) / Hᵀ(M·1)

   M is the measured box (the data term lives there only), b the background. Each iteration is
   one PdRLCorrection (2 forward + 2 inverse FFTs, one fused ratio pass) and one fused update
   pass, which also writes x_{k+1} into the FFT buffer for the next iteration.
   Working-size volumes per rank: x and the FFT buffer (which holds the spectrum too): 2, plus the
   OTF and the data on the image box; w = 1/Hᵀ(M·1) is computed row by row
   from the PSF's box sums (box_weights.c) instead of stored. */
#include "decon/decon_impl.h"

static PetscErrorCode RLSetUp(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PetscArraycpy(d->work, d->x, PdDeconLocalCount(d)));
  PetscFunctionReturn(0);
}

static PetscErrorCode RLStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  const PdLayout *l  = d->lay;
  const ptrdiff_t n1 = l->n[1], rs = l->rs, nrows = l->nzl * n1;
  double          s0 = 0, s1 = 0; /* ||x_{k+1} - x_k||², ||x_k||² */

  PetscFunctionBegin;
  PetscCall(PdRLCorrection(d, want_obj, obj));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for reduction(+ : s0, s1) schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t       o = (row / n1) * l->ps + (row % n1) * rs;
    const float *restrict w = PdDeconWeightsRow(d, row / n1, row % n1);
    float *restrict       x = d->x + o, *restrict work = d->work + o;
    double                a0 = 0, a1 = 0;
#pragma omp simd reduction(+ : a0, a1)
    for (ptrdiff_t i = 0; i < rs; i++) {
      float xn = x[i] * work[i] * w[i];
      float dx = xn - x[i];
      a0 += (double)dx * dx;
      a1 += (double)x[i] * x[i];
      x[i]    = xn;
      work[i] = xn;
    }
    s0 += a0;
    s1 += a1;
  }
  PetscCall(PetscLogFlops(5.0 * PdDeconLocalCount(d)));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  double s[2] = {s0, s1};
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RL = {.name = "rl", .description = "Richardson-Lucy, boundary weighted", .nvolumes = 2, .setup = RLSetUp, .step = RLStep, .row_weights = PETSC_TRUE, .real_otf = PETSC_TRUE};
