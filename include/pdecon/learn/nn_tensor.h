/* Tensors of the CNN engine: float32, NCDHW (batch, channels, z, y, x), x fastest; a 2D tensor
   has d = 1. A tensor owns its data (PdTensorAlloc) or is a view of someone else's (PdTensorView,
   or what PdNNForward / PdNNBackward return); PdTensorFree frees only what it owns. */
#ifndef PDECON_NN_TENSOR_H
#define PDECON_NN_TENSOR_H

#include <petscsys.h>

typedef struct {
  PetscInt  n, c, d, h, w;
  float    *v;
  PetscBool owned;
} PdTensor;

/* A zeroed tensor of n·c·d·h·w floats. */
PetscErrorCode PdTensorAlloc(PetscInt n, PetscInt c, PetscInt d, PetscInt h, PetscInt w, PdTensor *t);
/* Frees owned data; leaves an empty tensor (a view is only forgotten). */
PetscErrorCode PdTensorFree(PdTensor *t);

static inline PdTensor PdTensorView(PetscInt n, PetscInt c, PetscInt d, PetscInt h, PetscInt w, float *v)
{
  PdTensor t = {n, c, d, h, w, v, PETSC_FALSE};
  return t;
}
static inline PetscInt PdTensorSpatial(const PdTensor *t) { return t->d * t->h * t->w; }
static inline PetscInt PdTensorSize(const PdTensor *t) { return t->n * t->c * t->d * t->h * t->w; }
/* Sample k of a batch, as a view (n = 1). */
static inline PdTensor PdTensorSample(const PdTensor *t, PetscInt k)
{
  return PdTensorView(1, t->c, t->d, t->h, t->w, t->v + k * t->c * PdTensorSpatial(t));
}

#endif
