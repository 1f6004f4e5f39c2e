/* Richardson-Lucy accelerated by extrapolation: Biggs-Andrews vector extrapolation with their
   second-order prediction by default (Biggs & Andrews, Applied Optics 36(8), 1997; the
   first-order one is MATLAB's deconvlucy), or another prediction with -decon_accel (rl_accel.c
   has each one's equations):

     h_k     = x_k − x_{k−1}
     u_k     = max(x_k + α_k h_k + α_k²/2 (h_k − h_{k−1}), 0)   predict along the last steps
     x_{k+1} = RL(u_k)                                            one ordinary RL update from u_k
     g_k     = x_{k+1} − u_k                                      what RL changed
     α_{k+1} = Σ g_k g_{k−1} / Σ g_{k−1}², clipped to [0, 0.99]

   Biggs-Andrews takes its step length from the iterates themselves (no parameter, no restart
   rule to tune); non-negativity is kept by the clip and RL's update is unchanged, so the boundary
   weights and background carry over. docs/methods/acceleration.md compares it with scaled heavy
   ball (deconwolf's), Nesterov with adaptive restart and the second-order prediction.
   Only steps are kept (rl_accel.c): working-size volumes per rank x and the FFT buffer, and the
   state h_k, g_{k−1} (biggs, biggs2) and h_{k−1} (biggs2), each half a volume in bfloat16 (the
   default -decon_accel_state) or one in float: biggs2 3.5 volumes (5 in float), biggs 3, shb and
   nesterov 2.5; plus OTF and data (w is computed, box_weights.c). */
#include "methods/rl_accel_impl.h"

static PetscErrorCode BiggsCreate(PdDecon d)
{
  PdAccel *a;

  PetscFunctionBegin;
  PetscCall(PetscNew(&a));
  a->type  = PD_ACCEL_BIGGS2;    /* the most quality per iteration and per second (docs/methods/acceleration.md) */
  a->state = PD_ACCEL_STATE_BF16; /* the quality of float state in 40 % of its memory (ibid.) */
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
  PetscCall(PetscOptionsEnum("-decon_accel_state", "Storage of the acceleration's state (steps): bf16 (16 bits) or float", "", PdAccelStateTypes, (PetscEnum)a->state, (PetscEnum *)&a->state, NULL));
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
  PetscCall(PdAccelStep(d, a, want_obj, obj, change));
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsView(PdDecon d, PetscViewer v)
{
  PdAccel *a = (PdAccel *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "acceleration: %s, state in %s\n", PdAccelTypes[a->type], PdAccelStateTypes[a->state]));
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

/* the acceleration's state volumes, in float or in 16 bits */
static PetscInt BiggsStateVolumes(PdDecon d, PdAccelStateType state)
{
  const PdAccel *a = (const PdAccel *)d->mctx;
  return a->state == state ? PdAccelStateVolumes(a->type) : 0;
}
static PetscInt BiggsFloatVolumes(PdDecon d) { return BiggsStateVolumes(d, PD_ACCEL_STATE_FLOAT); }
static PetscInt BiggsHalfVolumes(PdDecon d) { return BiggsStateVolumes(d, PD_ACCEL_STATE_BF16); }

const PdMethodOps PdMethod_RLBiggs = {.name           = "rl_biggs",
                                      .description    = "Richardson-Lucy with Biggs-Andrews acceleration (second order; -decon_accel: another)",
                                      .nvolumes       = 2,
                                      .create         = BiggsCreate,
                                      .setfromoptions = BiggsSetFromOptions,
                                      .setup          = BiggsSetUp,
                                      .step           = BiggsStep,
                                      .view           = BiggsView,
                                      .destroy        = BiggsDestroy,
                                      .getstate       = BiggsGetState,
                                      .extra_volumes  = BiggsFloatVolumes,
                                      .half_volumes   = BiggsHalfVolumes,
                                      .row_weights    = PETSC_TRUE,
                                      .real_otf       = PETSC_TRUE,
                                      .data_counts    = PETSC_TRUE,
                                      /* the problem binned 2 x 2 laterally, solved from its Wiener
                                         filter: the fewest iteration-equivalents to a given PSNR
                                         (docs/methods/acceleration.md) */
                                      .default_start  = PD_START_COARSE};
