/* Accelerations of Richardson-Lucy (rl_biggs's -decon_accel, rl_accel.c): each predicts a point
   u_k from the iterates, RL updates from u_k, and a step length for the next prediction comes out
   of sums the update pass accumulates. docs/methods/acceleration.md compares them. */
#ifndef PDECON_RL_ACCEL_IMPL_H
#define PDECON_RL_ACCEL_IMPL_H

#include "decon/decon_impl.h"

typedef enum { PD_ACCEL_BIGGS, PD_ACCEL_BIGGS2, PD_ACCEL_SHB, PD_ACCEL_NESTEROV } PdAccelType;
extern const char *const PdAccelTypes[]; /* PETSc enum list: names, type name, prefix, NULL */

typedef struct {
  PdAccelType type;
  float      *xprev; /* x_{k-1} */
  float      *g;     /* g_{k-1} = x_k - u_{k-1}, what RL changed (biggs, biggs2; else NULL) */
  float      *hprev; /* h_{k-1} = x_{k-1} - x_{k-2} (biggs2; else NULL) */
  double      alpha; /* step length of the next prediction */
  double      k;     /* steps taken (doubles, so that checkpoints store them with the scalars) */
  double      t;     /* Nesterov's sequence t_k */
} PdAccel;

/* Working volumes of state beyond x_{k-1} (0, 1 or 2). */
PetscInt PdAccelExtraVolumes(PdAccelType type);
/* Allocates the state of a->type (once) and, unless restarting, resets it from x. */
PetscErrorCode PdAccelSetUp(PdDecon d, PdAccel *a);
/* x_{k-1} <- x_k; x and the FFT buffer <- u_k = max(prediction, 0). */
PetscErrorCode PdAccelPredict(PdDecon d, PdAccel *a);
/* After the RL correction (work = Hᵀ(y / (H u + b))): x <- u · work · w, the state for the next
   prediction, and the relative change ||x_{k+1} - x_k|| / ||x_k||. */
PetscErrorCode PdAccelUpdate(PdDecon d, PdAccel *a, double *change);
PetscErrorCode PdAccelGetState(PdAccel *a, PdMethodState *s);
PetscErrorCode PdAccelDestroy(PdAccel *a);

#endif
