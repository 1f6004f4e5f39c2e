/* Accelerations of Richardson-Lucy (rl_biggs's -decon_accel, rl_accel.c): each predicts a point
   u_k from the iterates, RL updates from u_k, and a step length for the next prediction comes out
   of sums the update pass accumulates. docs/methods/acceleration.md compares them. */
#ifndef PDECON_RL_ACCEL_IMPL_H
#define PDECON_RL_ACCEL_IMPL_H

#include "decon/decon_impl.h"

typedef enum { PD_ACCEL_BIGGS, PD_ACCEL_BIGGS2, PD_ACCEL_SHB, PD_ACCEL_NESTEROV } PdAccelType;
extern const char *const PdAccelTypes[]; /* PETSc enum list: names, type name, prefix, NULL */
/* How the state volumes are stored: float, or bfloat16 (every state volume is a difference of
   iterates, so 16 bits cost a fraction of a step, not of the image). */
typedef enum { PD_ACCEL_STATE_FLOAT, PD_ACCEL_STATE_BF16 } PdAccelStateType;
extern const char *const PdAccelStateTypes[];

/* The state volumes hold floats or bfloat16 (PdBF16) by a->state; every one is a step. */
typedef struct {
  PdAccelType      type;
  PdAccelStateType state;
  float           *h;     /* h_k = x_k - x_{k-1}; from Predict to Update the predicted move δ_k */
  float           *g;     /* g_{k-1} = x_k - u_{k-1}, what RL changed (biggs, biggs2; else NULL) */
  float           *hprev; /* h_{k-1} (biggs2; else NULL) */
  double           alpha; /* step length of the next prediction */
  double           k;     /* steps taken (doubles, so that checkpoints store them with the scalars) */
  double           t;     /* Nesterov's sequence t_k */
  size_t           nfloats; /* floats allocated per state volume */
} PdAccel;

/* State volumes of a->type (1, 2 or 3), each of a->state's size. */
PetscInt PdAccelStateVolumes(PdAccelType type);
/* Allocates the state of a->type (once) and, unless restarting, resets it (all steps zero). */
PetscErrorCode PdAccelSetUp(PdDecon d, PdAccel *a);
/* One step: u_k = max(x_k + δ_k, 0) (δ_k the prediction's move, stored rounded to the state's
   precision in place of h_{k−1}, or of h_k), the RL correction from u_k, x <- u_k · correction · w,
   the state for the next prediction, and the relative change ||x_{k+1} - x_k|| / ||x_k||. The
   prediction and the update run inside the correction's transforms, plane by plane. */
PetscErrorCode PdAccelStep(PdDecon d, PdAccel *a, PetscBool want_objective, double *objective, double *change);
PetscErrorCode PdAccelGetState(PdAccel *a, PdMethodState *s);
PetscErrorCode PdAccelDestroy(PdAccel *a);

#endif
