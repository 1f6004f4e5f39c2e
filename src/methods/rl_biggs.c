/* Richardson-Lucy accelerated by extrapolation: Biggs-Andrews vector extrapolation by default
   (Biggs & Andrews, Applied Optics 36(8), 1997; the method behind MATLAB's deconvlucy), or
   another prediction with -decon_accel (rl_accel.c has each one's equations):

     u_k     = max(x_k + α_k (x_k − x_{k−1}), 0)       predict along the last step
     x_{k+1} = RL(u_k)                                  one ordinary RL update from u_k
     g_k     = x_{k+1} − u_k                            what RL changed
     α_{k+1} = Σ g_k g_{k−1} / Σ g_{k−1}², clipped to [0, 0.99]

   Biggs-Andrews takes its step length from the iterates themselves (no parameter, no restart
   rule to tune); non-negativity is kept by the clip and RL's update is unchanged, so the boundary
   weights and background carry over. docs/methods/acceleration.md compares it with scaled heavy
   ball (deconwolf's), Nesterov with adaptive restart and the second-order prediction.
   Working-size volumes per rank: x, x_{k−1}, the FFT buffer: 3, and g_{k−1} (biggs, biggs2) and
   h_{k−1} (biggs2) as the method's workspace; plus OTF and data (w is computed, box_weights.c). */
#include "methods/rl_accel_impl.h"

static PetscErrorCode BiggsCreate(PdDecon d)
{
  PdAccel *a;

  PetscFunctionBegin;
  PetscCall(PetscNew(&a));
  a->type = PD_ACCEL_BIGGS;
  d->mctx = a;
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  PdAccel *a = (PdAccel *)d->mctx;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Accelerated Richardson-Lucy (rl_biggs)");
  PetscCall(PetscOptionsEnum("-decon_accel", "Prediction: biggs (Biggs-Andrews), biggs2 (second order), shb (scaled heavy ball), nesterov (with adaptive restart)", "", PdAccelTypes, (PetscEnum)a->type,
                             (PetscEnum *)&a->type, NULL));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsSetUp(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PdAccelSetUp(d, (PdAccel *)d->mctx));
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  PdAccel *a = (PdAccel *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PdAccelPredict(d, a));
  PetscCall(PdRLCorrection(d, want_obj, obj));
  PetscCall(PdAccelUpdate(d, a, change));
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsView(PdDecon d, PetscViewer v)
{
  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "acceleration: %s\n", PdAccelTypes[((PdAccel *)d->mctx)->type]));
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsDestroy(PdDecon d)
{
  PetscFunctionBegin;
  if (!d->mctx) PetscFunctionReturn(0);
  PetscCall(PdAccelDestroy((PdAccel *)d->mctx));
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsGetState(PdDecon d, PdMethodState *s)
{
  PetscFunctionBegin;
  PetscCall(PdAccelGetState((PdAccel *)d->mctx, s));
  PetscFunctionReturn(0);
}

/* the acceleration's volumes beyond x_{k-1}, working-size */
static PetscErrorCode BiggsWorkspace(PdDecon d, const ptrdiff_t n[3], ptrdiff_t z0, ptrdiff_t nzl, double *bytes)
{
  PetscFunctionBegin;
  (void)z0;
  *bytes = (double)PdAccelExtraVolumes(((PdAccel *)d->mctx)->type) * 4.0 * (double)(PetscMax(nzl, 1) * n[1] * 2 * (n[2] / 2 + 1));
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RLBiggs = {.name           = "rl_biggs",
                                      .description    = "Richardson-Lucy with Biggs-Andrews acceleration (-decon_accel: or another)",
                                      .nvolumes       = 3,
                                      .create         = BiggsCreate,
                                      .setfromoptions = BiggsSetFromOptions,
                                      .setup          = BiggsSetUp,
                                      .step           = BiggsStep,
                                      .view           = BiggsView,
                                      .destroy        = BiggsDestroy,
                                      .getstate       = BiggsGetState,
                                      .workspace      = BiggsWorkspace,
                                      .row_weights    = PETSC_TRUE};
