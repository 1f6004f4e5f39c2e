/* RL-TV of Dey et al., "Richardson-Lucy algorithm with total variation regularization for 3D
   confocal microscope deconvolution", Microsc. Res. Tech. 69:260-266 (2006): Richardson-Lucy with
   the TV gradient in the denominator.

   TV_ε(x) = Σ_box sqrt(|Dx|² + ε s²) with the forward differences D of diffops.h (Neumann ends,
   optionally divided by the voxel aspect), s = max(y); ∇TV_ε = Dᵀ(Dx / |Dx|_ε) = -div(∇x / |∇x|_ε).
   It minimises  KL(y ‖ Hx + b) + λ TV_ε(x),  x >= 0  (stationary where
   Hᵀ1 - Hᵀ(y / (Hx + b)) + λ∇TV_ε = 0 and x > 0) by

     x_{k+1} = x_k · Hᵀ(M y / (H x_k + b)) / max( Hᵀ1 + λ ∇TV_ε(x_k),  δ Hᵀ1 )

   Hᵀ1 is the box-restricted Hᵀ(M 1) of the Bertero-Boccacci weights (w = 1/Hᵀ1), so with λ = 0
   this is the `rl` method bit for bit. Dey et al. keep the denominator positive by restricting λ
   (|λ div| < 1 with Hᵀ1 = 1; |div| <= 2√3 for the exact TV). Here the denominator is clipped at δ Hᵀ1
   instead (δ = 0.1 by default): the TV factor Hᵀ1 / (Hᵀ1 + λ∇TV) then lies in (0, 1/δ], so a
   valley voxel grows at most 1/δ-fold per iteration from the TV term, and the iterate stays
   finite and >= 0 for any λ. The clip is inactive whenever Dey's condition holds.

   The TV acts on the measured box only (in padded mode the padding is the object outside the
   field of view, whose two sides meet across the periodic wrap, so the Neumann differences of the
   working volume would link voxels that are not neighbours); in the padding the update is plain
   RL. Periodic boundary: the box is the whole volume, TV with Neumann ends. Voxels with w = 0 (not
   estimated, row padding) stay 0. λ needs no rescaling with the intensity: Hᵀ(y / (Hx + b)) and
   ∇TV_ε (with ε s²) are invariant under y, b, x -> c y, c b, c x.

   Cost per iteration: one PdRLCorrection (2 forward + 2 inverse FFTs, one ratio pass), one
   streaming TV-gradient pass over the box (one ghost plane each way) and one fused update pass.
   Working-size volumes per rank: x, w, the FFT buffer, the TV gradient: 4; plus the OTF and the
   data. Parameters, options and set-up are shared with rl_smoothtv (rltv_common.c). */
#include "methods/rltv_impl.h"
#include <pdecon/ops/tv.h>
#include <math.h>

static PetscErrorCode DeyCreate(PdDecon d) { return PdRLTVCtxCreate(d, RLTV_DEY); }

static PetscErrorCode DeyStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;
  float *restrict       x = d->x, *restrict work = d->work;
  const float *restrict w = d->w, *restrict g = c->g;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  const float           lam = (float)c->lam, dl = (float)c->delta;
  double                sp[3], kl = NAN, tv = 0, s0 = 0, s1 = 0;

  PetscFunctionBegin;
  PetscCall(PdRLCorrection(d, want_obj, &kl));
  /* ∇TV = -div(∇x/|∇x|): the gradient call also returns TV's value for the objective */
  PetscCall(PdTVGradient(d->blay, PdRLTVSpacing(c, sp), c->eps * c->rrl.scale * c->rrl.scale, x, c->g, want_obj ? &tv : NULL));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd reduction(+ : s0, s1)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    /* (Hᵀ1 + λ∇TV) w; with λ = 0 exactly 1, so the update is RL's to the bit */
    float den = 1.0f + lam * w[i] * g[i];
    float xn  = x[i] * work[i] * w[i] / (den > dl ? den : dl);
    float dx  = xn - x[i];
    s0 += (double)dx * dx;
    s1 += (double)x[i] * x[i];
    x[i]    = xn;
    work[i] = xn;
  }
  PetscCall(PetscLogFlops(10.0 * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  double s[2] = {s0, s1};
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  if (obj) *obj = want_obj ? kl + c->lam * tv : NAN;
  PetscFunctionReturn(0);
}


const PdMethodOps PdMethod_RLTV = {.name = "rltv", .description = "Richardson-Lucy with total variation (Dey et al. 2006)", .nvolumes = 4, .direct = PETSC_FALSE,
                                   .create = DeyCreate, .setfromoptions = PdRLTVSetFromOptions, .setup = PdRLTVSetUp, .step = DeyStep, .view = PdRLTVView, .destroy = PdRLTVDestroy, .getstate = PdRLTVGetState};
