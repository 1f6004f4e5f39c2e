/* State and passes shared by the DeconvolutionLab2 family, one file per method (nif.c, trif.c,
   rif.c, wiener.c, lw.c, lw_plus.c, tm.c, ictm.c): the context and parameters (dl2_common.c), the
   gradient iterations with their residual and update passes (dl2_iterate.c) and the filters'
   Fourier division (dl2_filter.c). */
#ifndef PDECON_DL2_IMPL_H
#define PDECON_DL2_IMPL_H

#include "decon/decon_impl.h"
#include <pdecon/methods/dl2.h>

typedef enum { PD_DL2_NIF, PD_DL2_TRIF, PD_DL2_RIF, PD_DL2_WIENER, PD_DL2_LW, PD_DL2_TM } PdDL2Kind;

typedef struct {
  PdDL2Kind kind;
  double    lambda;    /* λ (trif, rif, tm, ictm), K (wiener), |H|² threshold (nif); trif, rif: < 0
                          derives λ from the data's noise (dl2_filter.c) */
  double    lam;       /* nif, trif, rif: λ (threshold) of the current solve */
  double    said;      /* the derived value last printed (printed again only when it changes) */
  double    gamma;     /* step factor (lw, lw_plus, tm, ictm) */
  PetscBool positive;  /* lw_plus, ictm: projection onto x >= 0 */
  double    step;      /* absolute step of the current solve: gamma / max_k(|H|² + λ|L|²) */
  float    *sym;       /* tm, ictm: symbol of the negative Laplacian (spectral layout) */
  float    *xhat;      /* tm, ictm: (λ/N)|L|² X̂ of the current iterate (spectral layout) */
} PdDL2Ctx;

extern const PdMethodOps PdMethod_NIF, PdMethod_TRIF, PdMethod_RIF, PdMethod_Wiener;
extern const PdMethodOps PdMethod_LW, PdMethod_LWPlus, PdMethod_TM, PdMethod_ICTM;

/* Context with the method's defaults, options and views (dl2_common.c). */
PetscErrorCode PdDL2CtxCreate(PdDecon d, PdDL2Kind kind, double lambda, double gamma, PetscBool positive);
PetscErrorCode PdDL2CtxDestroy(PdDecon d);
PetscErrorCode PdDL2IterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject);
PetscErrorCode PdDL2IterView(PdDecon d, PetscViewer v);
PetscErrorCode PdDL2FilterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject);
PetscErrorCode PdDL2FilterView(PdDecon d, PetscViewer v);

/* Default step factor of the gradient methods: any γ in (0, 2) converges, and the largest safe
   one goes furthest in a given number of iterations (measured: docs/methods/dl2.md, "Defaults").
   DeconvolutionLab2's is 1. */
#define PD_DL2_GAMMA 1.9

/* Laplacian weights (z, y, x): isotropic in voxel units, as in DeconvolutionLab2. */
extern const double PdDL2LaplacianWeights[3];

/* Gradient iterations (dl2_iterate.c). */
/* Step from max_k(|H(k)|² + lambda sym(k)²) over the spectrum (sym NULL: max |H|²). Collective. */
PetscErrorCode PdDL2SetStep(PdDecon d, const float *sym, double lambda);
/* On entry work holds H x. On exit work = M(y - b - Hx) (zero outside the measured box and on the
   row padding); *half_sq = local 0.5 ||r||² when want_obj. */
PetscErrorCode PdDL2Residual(PdDecon d, PetscBool want_obj, double *half_sq);
/* x <- P(x + step * g) with g in work, P: zero where w = 0 (voxels not estimated, row padding)
   and, when positive, max(0, .); work <- x for the next step. *obj (local on entry, may be NULL)
   is summed over ranks in the same reduction as the change. */
PetscErrorCode PdDL2Update(PdDecon d, double step, PetscBool positive, double *obj, double *change);
/* Landweber (lw, lw_plus) and Tikhonov-Miller (tm, ictm): set-up (step size, FFT input) and one
   iteration; c->positive selects the projected variant. */
PetscErrorCode PdDL2LandweberSetUp(PdDecon d);
PetscErrorCode PdDL2LandweberStep(PdDecon d, PetscBool want_obj, double *obj, double *change);
PetscErrorCode PdDL2TikhonovMillerSetUp(PdDecon d);
PetscErrorCode PdDL2TikhonovMillerStep(PdDecon d, PetscBool want_obj, double *obj, double *change);

/* The inverse filters' one step: data into the working volume, spectrum divided by the method's
   denominator (c->kind), result kept where w > 0 (dl2_filter.c). */
PetscErrorCode PdDL2FilterStep(PdDecon d, PetscBool want_obj, double *obj, double *change);

#endif
