/* State shared by the two TV-regularised RL methods, rltv (rltv.c) and rl_smoothtv
   (rl_smoothtv.c): parameters, options, set-up, view and checkpoint state (rltv_common.c). */
#ifndef PDECON_RLTV_IMPL_H
#define PDECON_RLTV_IMPL_H

#include "decon/decon_impl.h"
#include <pdecon/methods/rltv.h>

typedef enum { RLTV_DEY, RLTV_SMOOTH } RLTVKind;

typedef struct {
  RLTVKind  kind;
  double    lambda;  /* as set; < 0: derived from the data's noise at set-up */
  double    lam;     /* λ of the current solve */
  double    said;    /* the derived λ last printed (printed again only when it changes) */
  double    eps, delta;
  PetscBool use_aspect;
  double    aspect[3];
  /* state of the current solve */
  float    *g;   /* ∇TV_ε on the box, 0 elsewhere */
  PdRRL     rrl; /* rl_smoothtv's iteration (rrl.c); rltv uses its data scale s = max(y) only */
} RLTVCtx;


extern const PdMethodOps PdMethod_RLTV, PdMethod_RLSmoothTV;

/* Context with the method's defaults. */
PetscErrorCode PdRLTVCtxCreate(PdDecon d, RLTVKind kind);
/* Spacings for the differences (NULL: unit), normalised so the finest axis has spacing 1. */
const double  *PdRLTVSpacing(const RLTVCtx *c, double sp[3]);
PetscErrorCode PdRLTVSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject);
PetscErrorCode PdRLTVSetUp(PdDecon d);
PetscErrorCode PdRLTVGetState(PdDecon d, PdMethodState *st);
PetscErrorCode PdRLTVView(PdDecon d, PetscViewer v);
PetscErrorCode PdRLTVDestroy(PdDecon d);

#endif
