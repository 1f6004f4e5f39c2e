/* Smoothed-TV Richardson-Lucy: the "RLTV" baseline of pyxudeconv (the GARL work's reference
   method; docs/methods/rltv.md), the RRL iteration with the smoothed-TV gradient in the numerator
   and Nesterov extrapolation (on by default, no restart):

     t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2,  a_k = (t_k - 1) / t_{k+1},  t_0 = 1
     p_k     = max( x_k + a_k (x_k - x_{k-1}), lb )
     x_{k+1} = max( p_k · ( Hᵀ(M y / (H p_k + b)) - λ ∇TV_ε(p_k) ) / Hᵀ1,  lb )

   TV_ε(x) = Σ_box sqrt(|Dx|² + ε s²) with the forward differences D of diffops.h (Neumann ends,
   optionally divided by the voxel aspect), s = max(y), ∇TV_ε = Dᵀ(Dx / |Dx|_ε); it minimises
   KL(y ‖ Hx + b) + λ TV_ε(x), x >= 0, like rltv (rltv.c), but with λ∇TV_ε in RL's numerator.
   ε = 1e-6 and lb = 1e-6 in units of the data maximum (pyxudeconv divides the data by max(y)
   first; scaling ε by s² and lb by s makes this the same iteration on unnormalised data). The
   numerator turns negative where λ∇TV is large; those voxels are clipped to lb (no safeguard,
   as in the original: large λ makes it oscillate).

   The TV acts on the measured box only (pyxudeconv's trim T); in the padding the update is plain
   RL. Voxels with w = 0 stay 0. The iteration is rrl.c's, shared with garl; parameters, options and
   set-up are shared with rltv (rltv_common.c).

   Cost per iteration: one PdRLCorrection (2 forward + 2 inverse FFTs, one ratio pass), one
   streaming TV-gradient pass over the box (one ghost plane each way) and one fused update pass.
   Working-size volumes per rank: x, w, the FFT buffer, the TV gradient: 4 without acceleration,
   5 with it (+ x_{k-1}); plus the OTF and the data. */
#include "methods/rltv_impl.h"
#include <pdecon/ops/tv.h>

static PetscErrorCode SmoothCreate(PdDecon d) { return PdRLTVCtxCreate(d, RLTV_SMOOTH); }

/* Φ = TV_ε with ε s² (rrl.c's gradient callback) */
static PetscErrorCode SmoothTVGradient(PdDecon d, const float *p, float *g, double *value)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;
  double   sp[3];

  PetscFunctionBegin;
  PetscCall(PdTVGradient(d->blay, PdRLTVSpacing(c, sp), c->eps * c->rrl.scale * c->rrl.scale, p, g, value));
  PetscFunctionReturn(0);
}

static PetscErrorCode SmoothStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PdRRLStep(d, &c->rrl, c->lam, SmoothTVGradient, c->g, want_obj, obj, change));
  PetscFunctionReturn(0);
}


const PdMethodOps PdMethod_RLSmoothTV = {.name = "rl_smoothtv", .description = "accelerated RL with smoothed-TV gradient (pyxudeconv RLTV)", .nvolumes = 5, .direct = PETSC_FALSE,
                                         .create = SmoothCreate, .setfromoptions = PdRLTVSetFromOptions, .setup = PdRLTVSetUp, .step = SmoothStep, .view = PdRLTVView, .destroy = PdRLTVDestroy, .getstate = PdRLTVGetState};
