/* Pointwise activations (same shape in and out):

     ReLU        y = max(0, x)                 dL/dx = g · [x > 0]        (read from y > 0)
     LeakyReLU   y = x if x > 0 else a·x       dL/dx = g · (x > 0 ? 1 : a)
     Sigmoid     y = 1 / (1 + e^(−x))          dL/dx = g · y · (1 − y)

   with g = dL/dy; at x = 0 the ReLU derivatives are taken as those of the x <= 0 side. */
#include "learn/nn/nn_impl.h"
#include <math.h>

/* One forward and one backward for the three kinds: the kind chosen outside the loops, so each
   loop vectorises. */
static PetscErrorCode ActivationForward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->in);
  const float   *x = a->in->v, s = (float)L->slope;
  float         *y = a->out->v;

  switch (L->kind) {
  case PD_NN_RELU:
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
    break;
  case PD_NN_LEAKY_RELU:
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : s * x[i];
    break;
  default:
#pragma omp parallel for schedule(static)
    for (PetscInt i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
  }
  return 0;
}

static PetscErrorCode ActivationBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt  n = PdTensorSize(a->out);
  const float    *x = a->in->v, *y = a->out->v, *g = a->gout->v, s = (float)L->slope;
  const PetscBool add = a->add_in;
  float          *gx;

  if (!a->gin) return 0;
  gx = a->gin->v;
  switch (L->kind) {
  case PD_NN_RELU:
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] = (add ? gx[i] : 0.0f) + (y[i] > 0 ? g[i] : 0.0f);
    break;
  case PD_NN_LEAKY_RELU:
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] = (add ? gx[i] : 0.0f) + (x[i] > 0 ? g[i] : s * g[i]);
    break;
  default:
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] = (add ? gx[i] : 0.0f) + g[i] * y[i] * (1.0f - y[i]);
  }
  return 0;
}

const PdNNLayerOps PdNNReLUOps      = {PdNNSameShape, ActivationForward, ActivationBackward};
const PdNNLayerOps PdNNLeakyReLUOps = {PdNNSameShape, ActivationForward, ActivationBackward};
const PdNNLayerOps PdNNSigmoidOps   = {PdNNSameShape, ActivationForward, ActivationBackward};
