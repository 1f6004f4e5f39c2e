/* State of the ADMM method shared by the iteration (admm.c) and its parameters, setters, options
   and view (admm_params.c). */
#ifndef PDECON_ADMM_IMPL_H
#define PDECON_ADMM_IMPL_H

#include "decon/decon_impl.h"
#include <pdecon/methods/admm.h>
#include <pdecon/ops/tv_split.h>

typedef struct {
  /* parameters */
  double    rho, lambda, mu, tau, beta;
  PetscInt  cg_its;
  PetscBool adaptive, monitor, check, pc;
  /* state */
  PetscBool periodic;
  double    scale, rho_cur;
  float    *x, *v2, *v3[3], *U, *v1, *r, *p, *invden, *dlt, *r0;
  PdTVSplitWork b;
  PetscBool bufs;
  double    primal, dual, xres;
  double   *hp, *hd;
  PetscInt  nh, caph;
} ADMMCtx;

extern const PdMethodOps PdMethod_ADMM;

/* Context with the defaults; options; view (admm_params.c). */
PetscErrorCode PdADMMCreate(PdDecon d);
PetscErrorCode PdADMMSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject);
PetscErrorCode PdADMMView(PdDecon d, PetscViewer v);

#endif
