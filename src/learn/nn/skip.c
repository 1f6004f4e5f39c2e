/* Skip connections: the previous layer's output a and an earlier layer's output b (same batch
   and spatial size).

     Concat     y = [a, b] along channels (a's channels first)     dL/da, dL/db = the two channel
                                                                  slices of g = dL/dy
     Residual   y = a + b (same shape)                             dL/da = dL/db = g */
#include "learn/nn/nn_impl.h"

static PetscErrorCode ConcatShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  PetscFunctionBegin;
  (void)dims;
  PetscCheck(in[0] == skip[0] && in[2] == skip[2] && in[3] == skip[3] && in[4] == skip[4], PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "concat %s: sizes %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " and %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " differ", L->name, in[2], in[3], in[4], skip[2], skip[3], skip[4]);
  for (int j = 0; j < 5; j++) out[j] = in[j];
  out[1] = in[1] + skip[1];
  PetscFunctionReturn(0);
}

static PetscErrorCode ResidualShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  PetscFunctionBegin;
  (void)dims;
  for (int j = 0; j < 5; j++) PetscCheck(in[j] == skip[j], PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "residual %s: the two inputs differ in shape", L->name);
  for (int j = 0; j < 5; j++) out[j] = in[j];
  PetscFunctionReturn(0);
}

/* dst (= or +=) src, n floats. */
static void Move(float *dst, const float *src, PetscInt n, PetscBool add)
{
  if (add) {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) dst[i] += src[i];
  } else {
#pragma omp parallel for simd schedule(static)
    for (PetscInt i = 0; i < n; i++) dst[i] = src[i];
  }
}

static PetscErrorCode ConcatForward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt M = PdTensorSpatial(a->in), ca = a->in->c * M, cb = a->skip->c * M;

  (void)L;
  for (PetscInt n = 0; n < a->in->n; n++) {
    Move(a->out->v + n * (ca + cb), a->in->v + n * ca, ca, PETSC_FALSE);
    Move(a->out->v + n * (ca + cb) + ca, a->skip->v + n * cb, cb, PETSC_FALSE);
  }
  return 0;
}

static PetscErrorCode ConcatBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt M = PdTensorSpatial(a->in), ca = a->in->c * M, cb = a->skip->c * M;

  (void)L;
  for (PetscInt n = 0; n < a->in->n; n++) {
    if (a->gin) Move(a->gin->v + n * ca, a->gout->v + n * (ca + cb), ca, a->add_in);
    if (a->gskip) Move(a->gskip->v + n * cb, a->gout->v + n * (ca + cb) + ca, cb, a->add_skip);
  }
  return 0;
}

static PetscErrorCode ResidualForward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->in);
  const float   *x = a->in->v, *s = a->skip->v;
  float         *y = a->out->v;

  (void)L;
#pragma omp parallel for simd schedule(static)
  for (PetscInt i = 0; i < n; i++) y[i] = x[i] + s[i];
  return 0;
}

static PetscErrorCode ResidualBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const PetscInt n = PdTensorSize(a->in);

  (void)L;
  if (a->gin) Move(a->gin->v, a->gout->v, n, a->add_in);
  if (a->gskip) Move(a->gskip->v, a->gout->v, n, a->add_skip);
  return 0;
}

const PdNNLayerOps PdNNConcatOps   = {ConcatShape, ConcatForward, ConcatBackward};
const PdNNLayerOps PdNNResidualOps = {ResidualShape, ResidualForward, ResidualBackward};
