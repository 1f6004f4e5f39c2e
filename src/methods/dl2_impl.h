/* State and helpers shared by the DeconvolutionLab2 family: inverse_filters.c (nif, trif, rif,
   wiener), landweber.c (lw, lw_plus; also the residual and update passes below) and
   tikhonov_miller.c (tm, ictm). */
#ifndef PDECON_DL2_IMPL_H
#define PDECON_DL2_IMPL_H

#include "decon/decon_impl.h"
#include <pdecon/methods/dl2.h>

typedef enum { PD_DL2_NIF, PD_DL2_TRIF, PD_DL2_RIF, PD_DL2_WIENER, PD_DL2_LW, PD_DL2_TM } PdDL2Kind;

typedef struct {
  PdDL2Kind kind;
  double    lambda;    /* λ (trif, rif, tm, ictm), K (wiener), |H|² threshold (nif) */
  double    gamma;     /* step factor (lw, lw_plus, tm, ictm) */
  PetscBool positive;  /* lw_plus, ictm: projection onto x >= 0 */
  double    step;      /* absolute step of the current solve: gamma / max_k(|H|² + λ|L|²) */
  float    *sym;       /* tm, ictm: symbol of the negative Laplacian (spectral layout) */
  float    *xhat;      /* tm, ictm: (λ/N)|L|² X̂ of the current iterate (spectral layout) */
} PdDL2Ctx;

extern const PdMethodOps PdMethod_NIF, PdMethod_TRIF, PdMethod_RIF, PdMethod_Wiener;
extern const PdMethodOps PdMethod_LW, PdMethod_LWPlus, PdMethod_TM, PdMethod_ICTM;

/* Context with the method's defaults (inverse_filters.c). */
PetscErrorCode PdDL2CtxCreate(PdDecon d, PdDL2Kind kind, double lambda, double gamma, PetscBool positive);
PetscErrorCode PdDL2CtxDestroy(PdDecon d);

/* Laplacian weights (z, y, x): isotropic in voxel units, as in DeconvolutionLab2. */
extern const double PdDL2LaplacianWeights[3];

/* Iterative methods (landweber.c). */
/* Step from max_k(|H(k)|² + lambda sym(k)²) over the spectrum (sym NULL: max |H|²). Collective. */
PetscErrorCode PdDL2SetStep(PdDecon d, const float *sym, double lambda);
/* On entry work holds H x. On exit work = M(y - b - Hx) (zero outside the measured box and on the
   row padding); *half_sq = local 0.5 ||r||² when want_obj. */
PetscErrorCode PdDL2Residual(PdDecon d, PetscBool want_obj, double *half_sq);
/* x <- P(x + step * g) with g in work, P: zero where w = 0 (voxels not estimated, row padding)
   and, when positive, max(0, .); work <- x for the next step. *obj (local on entry, may be NULL)
   is summed over ranks in the same reduction as the change. */
PetscErrorCode PdDL2Update(PdDecon d, double step, PetscBool positive, double *obj, double *change);
PetscErrorCode PdDL2IterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject);
PetscErrorCode PdDL2IterView(PdDecon d, PetscViewer v);

#endif
