/* Adam on a flat parameter vector (adam.h), shared by the learned regulariser's trainer and the
   CNN engine. The moments are kept in double whatever the parameters' type. */
#include <pdecon/learn/adam.h>
#include <math.h>

struct _p_PdAdam {
  PetscInt   n, t;
  double     beta1, beta2, eps;
  PdAdamForm form;
  double    *m, *v;
};

PetscErrorCode PdAdamCreate(PetscInt n, PdAdam *a)
{
  PetscFunctionBegin;
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Adam: negative size");
  PetscCall(PetscNew(a));
  (*a)->n = n;
  PetscCall(PdAdamSetHyperParameters(*a, 0.9, 0.999, 1e-8, PD_ADAM_PYTORCH));
  PetscCall(PetscCalloc2(PetscMax(n, 1), &(*a)->m, PetscMax(n, 1), &(*a)->v));
  PetscFunctionReturn(0);
}

PetscErrorCode PdAdamSetHyperParameters(PdAdam a, double beta1, double beta2, double eps, PdAdamForm form)
{
  PetscFunctionBegin;
  PetscCheck(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Adam: betas must lie in [0, 1) and epsilon be positive");
  a->beta1 = beta1;
  a->beta2 = beta2;
  a->eps   = eps;
  a->form  = form;
  PetscFunctionReturn(0);
}

/* The update of parameter i for gradient g at learning rate lr, after t steps' bias corrections
   c1 = 1 − β1^t, c2 = 1 − β2^t. */
static inline double Delta(PdAdam a, PetscInt i, double g, double lr, double c1, double c2)
{
  a->m[i] = a->beta1 * a->m[i] + (1 - a->beta1) * g;
  a->v[i] = a->beta2 * a->v[i] + (1 - a->beta2) * g * g;
  if (a->form == PD_ADAM_KERAS) return lr * (sqrt(c2) / c1) * a->m[i] / (sqrt(a->v[i]) + a->eps);
  return lr * (a->m[i] / c1) / (sqrt(a->v[i] / c2) + a->eps);
}

PetscErrorCode PdAdamStepDouble(PdAdam a, const double *lr, const double *g, double *theta)
{
  double c1, c2;

  PetscFunctionBegin;
  a->t++;
  c1 = 1.0 - pow(a->beta1, (double)a->t);
  c2 = 1.0 - pow(a->beta2, (double)a->t);
  for (PetscInt i = 0; i < a->n; i++) theta[i] -= Delta(a, i, g[i], lr[i], c1, c2);
  PetscFunctionReturn(0);
}

PetscErrorCode PdAdamStepFloat(PdAdam a, double lr, const float *lr_mult, const float *g, float *theta)
{
  double c1, c2;

  PetscFunctionBegin;
  a->t++;
  c1 = 1.0 - pow(a->beta1, (double)a->t);
  c2 = 1.0 - pow(a->beta2, (double)a->t);
#pragma omp parallel for schedule(static)
  for (PetscInt i = 0; i < a->n; i++) theta[i] = (float)(theta[i] - Delta(a, i, g[i], lr_mult ? lr * lr_mult[i] : lr, c1, c2));
  PetscFunctionReturn(0);
}

PetscErrorCode PdAdamGetState(PdAdam a, PetscInt *n, PetscInt *t, double **m, double **v)
{
  if (n) *n = a->n;
  if (t) *t = a->t;
  if (m) *m = a->m;
  if (v) *v = a->v;
  return 0;
}

PetscErrorCode PdAdamSetStepCount(PdAdam a, PetscInt t)
{
  PetscFunctionBegin;
  PetscCheck(t >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Adam: negative step count");
  a->t = t;
  PetscFunctionReturn(0);
}

PetscErrorCode PdAdamDestroy(PdAdam *a)
{
  PetscFunctionBegin;
  if (!*a) PetscFunctionReturn(0);
  PetscCall(PetscFree2((*a)->m, (*a)->v));
  PetscCall(PetscFree(*a));
  PetscFunctionReturn(0);
}
