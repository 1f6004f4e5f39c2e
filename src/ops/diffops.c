/* Forward differences with Neumann ends and their adjoint, on z-slab volumes (see diffops.h for
   the equations). Both operators are local except along z, where a two-point stencil needs one
   plane of the neighbouring slab: Dz on the last local plane needs plane z0 + nzl of u, Dzᵀ on the
   first local plane needs plane z0 - 1 of pz. That plane travels (PdHaloBegin, one-sided) while the
   rest of the slab is computed. The per-voxel arithmetic does not depend on the distribution, so results are
   bitwise the same on any number of ranks. */
#include <pdecon/ops/diffops.h>
#include <string.h>

/* 1 / spacing per axis (z, y, x); NULL means unit spacings. */
static PetscErrorCode InverseSpacings(const PdLayout *l, const double w[3], float iw[3])
{
  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) {
    double s = w ? w[d] : 1.0;
    PetscCheck(s > 0 && PetscIsNormalReal(s), l->comm, PETSC_ERR_ARG_OUTOFRANGE, "voxel spacing %d must be positive and finite (got %.6g)", d, s);
    iw[d] = (float)(1.0 / s);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdGradient(const PdLayout *l, const double w[3], const float *u, float *pz, float *py, float *px)
{
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2];
  const PetscBool has_above = (PetscBool)(l->nzl > 0 && l->z0 + l->nzl < l->n[0]);
  float           iw[3], *above;
  PdHalo          ex;

  PetscFunctionBegin;
  PetscCall(InverseSpacings(l, w, iw));
  PetscCall(PetscMalloc1(n1 * n2, &above));
  PetscCall(PdHaloBegin(l, u, 0, 1, PD_HALO_ZERO, NULL, above, &ex));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    const float *uc = u + zl * l->ps, *un = NULL; /* plane z and plane z + 1 (NULL: z is the last) */
    ptrdiff_t    unrs = l->rs;
    if (zl + 1 < l->nzl) un = uc + l->ps;
    else if (has_above) {
      PetscCall(PdHaloWait(&ex));
      un   = above;
      unrs = n2;
    }
    for (ptrdiff_t y = 0; y < n1; y++) {
      const ptrdiff_t off = zl * l->ps + y * l->rs;
      const float    *r = uc + y * l->rs;
      float          *ox = px + off, *oy = py + off, *oz = pz + off;
      /* (Dx u)[x] = (u[x+1] - u[x]) / wx, 0 at the last voxel of the row; likewise y, z. */
      for (ptrdiff_t x = 0; x + 1 < n2; x++) ox[x] = (r[x + 1] - r[x]) * iw[2];
      ox[n2 - 1] = 0;
      if (y + 1 < n1) {
        const float *ry = r + l->rs;
        for (ptrdiff_t x = 0; x < n2; x++) oy[x] = (ry[x] - r[x]) * iw[1];
      } else memset(oy, 0, sizeof(float) * (size_t)n2);
      if (un) {
        const float *rz = un + y * unrs;
        for (ptrdiff_t x = 0; x < n2; x++) oz[x] = (rz[x] - r[x]) * iw[0];
      } else memset(oz, 0, sizeof(float) * (size_t)n2);
      PdZeroRowPadding(l, zl, y, ox);
      PdZeroRowPadding(l, zl, y, oy);
      PdZeroRowPadding(l, zl, y, oz);
    }
  }
  PetscCall(PdHaloEnd(&ex));
  PetscCall(PetscFree(above));
  PetscFunctionReturn(0);
}

PetscErrorCode PdGradientAdjoint(const PdLayout *l, const double w[3], const float *pz, const float *py, const float *px, float *out)
{
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2];
  const PetscBool has_below = (PetscBool)(l->nzl > 0 && l->z0 > 0);
  float           iw[3], *below;
  PdHalo          ex;

  PetscFunctionBegin;
  PetscCall(InverseSpacings(l, w, iw));
  PetscCall(PetscMalloc1(n1 * n2, &below));
  PetscCall(PdHaloBegin(l, pz, 1, 0, PD_HALO_ZERO, below, NULL, &ex));
  /* (Dᵀp)[i] = (p~[i-1] - p~[i]) / w per axis, p~ = p with p~[-1] = p~[n-1] = 0 (Dx u is 0 at the
     last voxel whatever u is, so Dᵀ ignores p there). Terms are summed x, y, z, and within z the
     -p~[z] term before the +p~[z-1] one, so the first plane can take the ghost term last. */
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    const PetscBool lastz = l->z0 + zl == l->n[0] - 1;
    for (ptrdiff_t y = 0; y < n1; y++) {
      const ptrdiff_t off = zl * l->ps + y * l->rs;
      const float    *qx = px + off, *qy = py + off, *qz = pz + off;
      float          *o  = out + off;
      if (n2 == 1) o[0] = 0;
      else {
        o[0] = -qx[0] * iw[2];
        for (ptrdiff_t x = 1; x + 1 < n2; x++) o[x] = (qx[x - 1] - qx[x]) * iw[2];
        o[n2 - 1] = qx[n2 - 2] * iw[2];
      }
      if (y + 1 < n1)
        for (ptrdiff_t x = 0; x < n2; x++) o[x] -= qy[x] * iw[1];
      if (y > 0)
        for (ptrdiff_t x = 0; x < n2; x++) o[x] += qy[x - l->rs] * iw[1];
      if (!lastz)
        for (ptrdiff_t x = 0; x < n2; x++) o[x] -= qz[x] * iw[0];
      if (zl > 0)
        for (ptrdiff_t x = 0; x < n2; x++) o[x] += qz[x - l->ps] * iw[0];
      PdZeroRowPadding(l, zl, y, o);
    }
  }
  PetscCall(PdHaloWait(&ex));
  if (has_below)
    for (ptrdiff_t y = 0; y < n1; y++)
      for (ptrdiff_t x = 0; x < n2; x++) out[y * l->rs + x] += below[y * n2 + x] * iw[0];
  PetscCall(PdHaloEnd(&ex));
  PetscCall(PetscFree(below));
  PetscFunctionReturn(0);
}
