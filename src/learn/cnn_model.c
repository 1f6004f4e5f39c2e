/* The restoration networks as a family (cnn.h): kinds, model files, whole-image application with
   the padding each network needs. */
#include <pdecon/learn/cnn.h>
#include <pdecon/core/sys.h>
#include <string.h>

const char *const PdCNNKinds[] = {"srcnn", "isonet1", "isonet2"};

PetscBool PdCNNKindFromString(const char *s, PdCNNKind *kind)
{
  for (int k = 0; k < 3; k++)
    if (!strcmp(s, PdCNNKinds[k])) {
      *kind = (PdCNNKind)k;
      return PETSC_TRUE;
    }
  return PETSC_FALSE;
}

PetscErrorCode PdCNNCreate(PdCNNKind kind, unsigned long long seed, PdNN *net)
{
  PetscFunctionBegin;
  if (kind == PD_CNN_SRCNN) PetscCall(PdSRCNNCreate(seed, net));
  else PetscCall(PdIsonetCreate(kind == PD_CNN_ISONET1 ? 1 : 2, seed, net));
  PetscFunctionReturn(0);
}

PetscInt PdCNNBorder(PdCNNKind kind) { return kind == PD_CNN_SRCNN ? 6 : 0; }
PetscInt PdCNNSideMultiple(PdCNNKind kind) { return kind == PD_CNN_ISONET2 ? 4 : 1; }

PetscErrorCode PdCNNLoad(MPI_Comm comm, const char *path, PdCNNKind *kind, PdNN *net)
{
  char           name[64] = "";
  PetscErrorCode ierr;

  PetscFunctionBegin;
  *net = NULL;
  PetscCall(PdNNFileKind(comm, path, name, sizeof(name)));
  PetscCheck(PdCNNKindFromString(name, kind), comm, PD_ERR_INPUT, "%s: a '%s' model, not one of srcnn, isonet1, isonet2", path, name);
  PetscCall(PdCNNCreate(*kind, 0, net));
  ierr = PdNNLoad(*net, comm, path, name, NULL, NULL);
  if (ierr) PetscCall(PdNNDestroy(net));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* Index i of a line of n pixels extended by replication (edge pixels repeated) or by reflection
   about the edge pixels (…2 1 0 1 2…, periodic with period 2(n−1) for any i). */
static inline PetscInt Replicate(PetscInt i, PetscInt n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }
static inline PetscInt Reflect(PetscInt i, PetscInt n)
{
  const PetscInt p = 2 * (n - 1);
  if (n == 1) return 0;
  i = ((i % p) + p) % p;
  return i < n ? i : p - i;
}

PetscErrorCode PdCNNApply2D(PdCNNKind kind, PdNN net, PdNNWork work, PetscInt ny, PetscInt nx, const float *in, float *out)
{
  const PetscInt b = PdCNNBorder(kind), q = PdCNNSideMultiple(kind);
  /* padded input: b on every side, then up to the multiple q at the bottom and right */
  const PetscInt hy = ((ny + q - 1) / q) * q + 2 * b, hx = ((nx + q - 1) / q) * q + 2 * b;
  PdTensor       x, y;

  PetscFunctionBegin;
  PetscCall(PdTensorAlloc(1, 1, 1, hy, hx, &x));
  for (PetscInt i = 0; i < hy; i++)
    for (PetscInt j = 0; j < hx; j++) {
      const PetscInt si = b > 0 ? Replicate(i - b, ny) : Reflect(i, ny), sj = b > 0 ? Replicate(j - b, nx) : Reflect(j, nx);
      x.v[i * hx + j] = in[si * nx + sj];
    }
  PetscCall(PdNNForward(net, work, &x, &y));
  PetscCheck(y.h >= ny && y.w >= nx && y.c == 1, PETSC_COMM_SELF, PETSC_ERR_PLIB, "network output %" PetscInt_FMT " x %" PetscInt_FMT " for an image of %" PetscInt_FMT " x %" PetscInt_FMT, y.h, y.w, ny, nx);
  for (PetscInt i = 0; i < ny; i++) PetscCall(PetscArraycpy(out + i * nx, y.v + i * y.w, nx));
  PetscCall(PdTensorFree(&x));
  PetscFunctionReturn(0);
}
