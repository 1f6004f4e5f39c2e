/* The Richardson-Lucy correction shared by the RL family: Hᵀ(M y / (H u + b)) (or B in place of
   Hᵀ for an unmatched back projector, or the sum over views), built on the ratio pass
   (rl_ratio.c). */
#include "decon/decon_impl.h"
#include <math.h>

PetscErrorCode PdDeconBackProject(PdDecon d)
{
  PetscFunctionBegin;
  if (d->ops->backprojector) PetscCall(PdFFTConvApplyFilter(d->conv));
  else PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));
  PetscFunctionReturn(0);
}

PetscErrorCode PdRLCorrection(PdDecon d, PetscBool want_obj, double *objective)
{
  double obj = 0;

  PetscFunctionBegin;
  if (d->nviews > 1) {
    PetscCall(PdMultiViewRLCorrection(d, want_obj, objective));
    if (want_obj && objective) d->stop.idiv = *objective;
    PetscFunctionReturn(0);
  }
  PetscCall(PdRLApplyRatio(d, want_obj, &obj)); /* H u and the ratio, fused */
  PetscCall(PdDeconBackProject(d));
  if (want_obj) {
    PetscCall(PdAllreduceSum(d->comm, &obj, 1));
    *objective   = obj;
    d->stop.idiv = obj; /* the stop rule's deviance (stop_rule.c) */
  } else if (objective) *objective = NAN;
  PetscFunctionReturn(0);
}
