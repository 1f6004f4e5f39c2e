/* Owned tensors (nn_tensor.h). */
#include <pdecon/learn/nn_tensor.h>

PetscErrorCode PdTensorAlloc(PetscInt n, PetscInt c, PetscInt d, PetscInt h, PetscInt w, PdTensor *t)
{
  PetscFunctionBegin;
  PetscCheck(n >= 0 && c >= 0 && d >= 0 && h >= 0 && w >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "negative tensor size");
  *t = PdTensorView(n, c, d, h, w, NULL);
  PetscCall(PetscCalloc1(PetscMax(1, PdTensorSize(t)), &t->v));
  t->owned = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdTensorFree(PdTensor *t)
{
  PetscFunctionBegin;
  if (t->owned) PetscCall(PetscFree(t->v));
  *t = PdTensorView(0, 0, 0, 0, 0, NULL);
  PetscFunctionReturn(0);
}
