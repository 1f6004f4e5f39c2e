/* Richardson-Lucy with Bertero-Boccacci boundary weights.

     x_{k+1} = x_k · Hᵀ( M·y / (H x_k + b) ) / Hᵀ(M·1)

   M is the measured box (the data term lives there only), b the background. Each iteration is
   one PdRLCorrection (2 forward + 2 inverse FFTs, one fused ratio pass) and one fused update
   pass, which also writes x_{k+1} into the FFT buffer for the next iteration.
   Working-size volumes per rank: x, w = 1/Hᵀ(M·1), the FFT buffer: 3, plus the OTF and the data
   on the image box. */
#include "decon/decon_impl.h"

static PetscErrorCode RLSetUp(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PetscArraycpy(d->work, d->x, PdDeconLocalCount(d)));
  PetscFunctionReturn(0);
}

static PetscErrorCode RLStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  float *restrict       x = d->x, *restrict work = d->work;
  const float *restrict w = d->w;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  double                s0 = 0, s1 = 0; /* ||x_{k+1} - x_k||², ||x_k||² */

  PetscFunctionBegin;
  PetscCall(PdRLCorrection(d, want_obj, obj));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for simd reduction(+ : s0, s1) schedule(static)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    float xn = x[i] * work[i] * w[i];
    float dx = xn - x[i];
    s0 += (double)dx * dx;
    s1 += (double)x[i] * x[i];
    x[i]    = xn;
    work[i] = xn;
  }
  PetscCall(PetscLogFlops(5.0 * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  double s[2] = {s0, s1};
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RL = {.name = "rl", .description = "Richardson-Lucy, boundary weighted", .nvolumes = 3, .setup = RLSetUp, .step = RLStep};
