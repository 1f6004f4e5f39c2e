/* SGD with momentum in Caffe's form (as SRCNN trains), on a flat parameter vector:

     V ← μ·V − lr·lr_mult[i]·g,   θ ← θ + V

   V (double) is replicated on every rank of a data-parallel trainer. */
#ifndef PDECON_NN_SGD_H
#define PDECON_NN_SGD_H

#include <petscsys.h>

typedef struct _p_PdSGD *PdSGD;

/* n parameters, momentum μ (Caffe/SRCNN: 0.9), V = 0. */
PetscErrorCode PdSGDCreate(PetscInt n, double momentum, PdSGD *s);
/* lr_mult NULL: 1 for every parameter. */
PetscErrorCode PdSGDStep(PdSGD s, double lr, const float *lr_mult, const float *g, float *theta);
/* The momentum V of n values (writable), for checkpoints. */
PetscErrorCode PdSGDGetState(PdSGD s, PetscInt *n, double **V);
PetscErrorCode PdSGDDestroy(PdSGD *s);

#endif
