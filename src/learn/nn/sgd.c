/* SGD with momentum, Caffe's form (SRCNN): V ← μ·V − lr·lr_mult·g, θ ← θ + V (nn_sgd.h). */
#include <pdecon/learn/nn_sgd.h>

struct _p_PdSGD {
  PetscInt n;
  double   mu, *V;
};

PetscErrorCode PdSGDCreate(PetscInt n, double momentum, PdSGD *s)
{
  PetscFunctionBegin;
  PetscCheck(n >= 0 && momentum >= 0 && momentum < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "SGD: momentum %g not in [0, 1)", momentum);
  PetscCall(PetscNew(s));
  (*s)->n  = n;
  (*s)->mu = momentum;
  PetscCall(PetscCalloc1(PetscMax(n, 1), &(*s)->V));
  PetscFunctionReturn(0);
}

PetscErrorCode PdSGDStep(PdSGD s, double lr, const float *lr_mult, const float *g, float *theta)
{
  double *V = s->V;

  PetscFunctionBegin;
#pragma omp parallel for simd schedule(static)
  for (PetscInt i = 0; i < s->n; i++) {
    V[i] = s->mu * V[i] - lr * (lr_mult ? lr_mult[i] : 1.0f) * g[i];
    theta[i] = (float)(theta[i] + V[i]);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdSGDGetState(PdSGD s, PetscInt *n, double **V)
{
  if (n) *n = s->n;
  if (V) *V = s->V;
  return 0;
}

PetscErrorCode PdSGDDestroy(PdSGD *s)
{
  PetscFunctionBegin;
  if (!*s) PetscFunctionReturn(0);
  PetscCall(PetscFree((*s)->V));
  PetscCall(PetscFree(*s));
  PetscFunctionReturn(0);
}
