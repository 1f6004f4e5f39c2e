/* The Richardson-Lucy correction shared by the RL family: Hᵀ(M y / (H u + b)) (or B in place of
   Hᵀ for an unmatched back projector, or the sum over views), built on the ratio pass
   (rl_ratio.c). */
#include "decon/decon_impl.h"
#include <math.h>
#include <omp.h>

/* fn on every local plane, in a pass of its own */
static PetscErrorCode PlanePass(PdDecon d, PdFFTPlaneFn fn, void *ctx)
{
  PetscFunctionBegin;
  if (!fn) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for schedule(static) num_threads(PdGetThreads())
  for (ptrdiff_t z = 0; z < d->lay->nzl; z++) fn(ctx, z, omp_get_thread_num());
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdRLCorrectionFused(PdDecon d, PetscBool want_obj, double *objective, const PdRLPasses *p)
{
  double obj = 0;

  PetscFunctionBegin;
  if (d->nviews > 1) {
    if (p) PetscCall(PlanePass(d, p->before, p->ctx));
    PetscCall(PdMultiViewRLCorrection(d, want_obj, objective));
    if (want_obj && objective) d->stop.idiv = *objective;
    if (p) PetscCall(PlanePass(d, p->after, p->ctx));
    PetscFunctionReturn(0);
  }
  PetscCall(PdRLApplyRatio(d, want_obj, &obj, p)); /* H u, the ratio and Hᵀ, fused */
  if (want_obj) {
    PetscCall(PdAllreduceSum(d->comm, &obj, 1));
    *objective   = obj;
    d->stop.idiv = obj; /* the stop rule's deviance (stop_rule.c) */
  } else if (objective) *objective = NAN;
  PetscFunctionReturn(0);
}

PetscErrorCode PdRLCorrection(PdDecon d, PetscBool want_obj, double *objective)
{
  PetscFunctionBegin;
  PetscCall(PdRLCorrectionFused(d, want_obj, objective, NULL));
  PetscFunctionReturn(0);
}
