/* Adam (Kingma & Ba, ICLR 2015) on a flat parameter vector, shared by every trainer.

     m ← β1 m + (1−β1) g,   v ← β2 v + (1−β2) g²,   t ← t + 1
     PyTorch form:  θ ← θ − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)          (ε = 1e−8)
     Keras form:    θ ← θ − lr_t · m / (sqrt(v) + ε),  lr_t = lr·sqrt(1−β2^t)/(1−β1^t)  (ε = 1e−7)

   The two forms differ only in where ε enters. The state (m, v in double, the step count t) is
   replicated on every rank of a data-parallel trainer and updated identically. */
#ifndef PDECON_ADAM_H
#define PDECON_ADAM_H

#include <petscsys.h>

typedef enum { PD_ADAM_PYTORCH, PD_ADAM_KERAS } PdAdamForm;

typedef struct _p_PdAdam *PdAdam;

/* n parameters; β1 0.9, β2 0.999, ε 1e−8, PyTorch form, t = 0, m = v = 0. */
PetscErrorCode PdAdamCreate(PetscInt n, PdAdam *a);
PetscErrorCode PdAdamSetHyperParameters(PdAdam a, double beta1, double beta2, double eps, PdAdamForm form);
/* One step on double parameters with a learning rate per parameter (lr[i]). */
PetscErrorCode PdAdamStepDouble(PdAdam a, const double *lr, const double *g, double *theta);
/* One step on float parameters: learning rate lr · lr_mult[i] (lr_mult NULL: 1). */
PetscErrorCode PdAdamStepFloat(PdAdam a, double lr, const float *lr_mult, const float *g, float *theta);
/* The state, for checkpoints: steps taken, and the arrays m and v of n values (writable). */
PetscErrorCode PdAdamGetState(PdAdam a, PetscInt *n, PetscInt *t, double **m, double **v);
PetscErrorCode PdAdamSetStepCount(PdAdam a, PetscInt t);
PetscErrorCode PdAdamDestroy(PdAdam *a);

#endif
