/* Pointwise activations (same shape in and out):

     ReLU        y = max(0, x)                 dL/dx = g · [x > 0]        (read from y > 0)
     LeakyReLU   y = x if x > 0 else a·x       dL/dx = g · (x > 0 ? 1 : a)
     Sigmoid     y = 1 / (1 + e^(−x))          dL/dx = g · y · (1 − y)

   with g = dL/dy; at x = 0 the ReLU derivatives are taken as those of the x <= 0 side. */
#include "learn/nn/nn_impl.h"
#include <math.h>

static PetscErrorCode SameShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  (void)L;
  (void)dims;
  (void)skip;
  for (int j = 0; j < 5; j++) out[j] = in[j];
  return 0;
}

static PetscErrorCode ReLUForward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->in);
  const float   *x = a->in->v;
  float         *y = a->out->v;

  (void)L;
#pragma omp parallel for simd schedule(static)
  for (PetscInt i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
  return 0;
}

static PetscErrorCode ReLUBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->out);
  const float   *y = a->out->v, *g = a->gout->v;
  float         *gx;

  (void)L;
  if (!a->gin) return 0;
  gx = a->gin->v;
  if (a->add_in) {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] += y[i] > 0 ? g[i] : 0.0f;
  } else {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] = y[i] > 0 ? g[i] : 0.0f;
  }
  return 0;
}

static PetscErrorCode LeakyReLUForward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->in);
  const float   *x = a->in->v, s = (float)L->slope;
  float         *y = a->out->v;

#pragma omp parallel for simd schedule(static)
  for (PetscInt i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : s * x[i];
  return 0;
}

static PetscErrorCode LeakyReLUBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->in);
  const float   *x = a->in->v, *g = a->gout->v, s = (float)L->slope;
  float         *gx;

  if (!a->gin) return 0;
  gx = a->gin->v;
  if (a->add_in) {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] += x[i] > 0 ? g[i] : s * g[i];
  } else {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] = x[i] > 0 ? g[i] : s * g[i];
  }
  return 0;
}

static PetscErrorCode SigmoidForward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->in);
  const float   *x = a->in->v;
  float         *y = a->out->v;

  (void)L;
#pragma omp parallel for schedule(static)
  for (PetscInt i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
  return 0;
}

static PetscErrorCode SigmoidBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->out);
  const float   *y = a->out->v, *g = a->gout->v;
  float         *gx;

  (void)L;
  if (!a->gin) return 0;
  gx = a->gin->v;
  if (a->add_in) {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] += g[i] * y[i] * (1.0f - y[i]);
  } else {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) gx[i] = g[i] * y[i] * (1.0f - y[i]);
  }
  return 0;
}

const PdNNLayerOps PdNNReLUOps      = {SameShape, ReLUForward, ReLUBackward};
const PdNNLayerOps PdNNLeakyReLUOps = {SameShape, LeakyReLUForward, LeakyReLUBackward};
const PdNNLayerOps PdNNSigmoidOps   = {SameShape, SigmoidForward, SigmoidBackward};
