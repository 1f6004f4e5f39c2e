/* Multi-view input for programs: the views' PSFs (PdDeconSetViews) and each view's data
   (PdDeconGetViewData), through the solver's own PSF and data calls; the iteration's parts are
   in multiview.c. */
#include "decon/decon_impl.h"
#include <math.h>

PetscErrorCode PdDeconSetViews(PdDecon d, PetscInt V, const ptrdiff_t pn[3], const float *psfs, const char *name)
{
  const ptrdiff_t np = pn[0] * pn[1] * pn[2];
  float          *sum;
  double          tot = 0;

  PetscFunctionBegin;
  PetscCheck(!d->setup, d->comm, PETSC_ERR_ORDER, "set the views before PdDeconSetUp");
  PetscCheck(V >= 1, d->comm, PD_ERR_INPUT, "%s: no views", name ? name : "views");
  if (V == 1) {
    PetscCall(PdDeconSetPSF(d, pn, psfs, name));
    PetscFunctionReturn(0);
  }
  PetscCall(PetscFree(d->vpsf));
  PetscCall(PetscMalloc1(V * np, &d->vpsf));
  for (ptrdiff_t i = 0; i < V * np; i++) tot += (d->vpsf[i] = PetscMax(psfs[i], 0.0f));
  PetscCheck(tot > 0 && isfinite(tot), d->comm, PD_ERR_INPUT, "%s: the views' PSFs are zero or not finite", name ? name : "views");
  for (ptrdiff_t i = 0; i < V * np; i++) d->vpsf[i] = (float)(d->vpsf[i] / tot);
  PetscCall(PetscCalloc1(np, &sum));
  for (PetscInt v = 0; v < V; v++)
    for (ptrdiff_t i = 0; i < np; i++) sum[i] += d->vpsf[v * np + i];
  PetscCall(PdDeconSetPSF(d, pn, sum, name));
  PetscCall(PetscFree(sum));
  d->nviews = V;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetViewData(PdDecon d, PetscInt v, const PdLayout **lay, float **y)
{
  PetscFunctionBegin;
  PetscCall(PdDeconGetData(d, lay, y));
  PetscCheck(v >= 0 && v < PdDeconViewCount(d), d->comm, PETSC_ERR_ARG_OUTOFRANGE, "view %" PetscInt_FMT " of %" PetscInt_FMT, v, PdDeconViewCount(d));
  if (y) *y += (size_t)v * PdLayoutLocalSize(d->dlay);
  PetscFunctionReturn(0);
}
