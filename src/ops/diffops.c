/* Forward differences with Neumann ends and their adjoint, on z-slab volumes (see diffops.h for
   the equations). Both operators are local except along z, where a two-point stencil needs one
   plane of the neighbouring slab: Dz on the last local plane needs plane z0 + nzl of u, Dzᵀ on the
   first local plane needs plane z0 - 1 of pz. That plane is exchanged non-blocking while the rest of
   the slab is computed. The per-voxel arithmetic does not depend on the distribution, so results are
   bitwise the same on any number of ranks. */
#include <pdecon/ops/diffops.h>
#include <string.h>

#define PD_PLANE_TAG_UP   7351 /* a slab's last plane, sent to the next rank with planes */
#define PD_PLANE_TAG_DOWN 7352 /* a slab's first plane, sent to the previous rank with planes */

/* Rank owning global plane g (0 <= g < n[0]): ranks with no planes share their zstart with the
   next rank and are never chosen. */
static int Owner(const PdLayout *l, ptrdiff_t g)
{
  int lo = 0, hi = l->size;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (l->zstart[mid] <= g) lo = mid;
    else hi = mid;
  }
  return lo;
}

PetscErrorCode PdPlaneExchangeBegin(const PdLayout *l, const float *v, PetscBool want_below, PetscBool want_above, float *below,
                                    float *above, PdPlaneExchange *ex)
{
  int         prv, nxt;
  PetscMPIInt cnt, n1, n2, rs;

  PetscFunctionBegin;
  for (int i = 0; i < 4; i++) ex->req[i] = MPI_REQUEST_NULL;
  ex->plane     = MPI_DATATYPE_NULL;
  ex->has_below = ex->has_above = PETSC_FALSE;
  if (l->nzl == 0) PetscFunctionReturn(0);
  prv = l->z0 > 0 ? Owner(l, l->z0 - 1) : -1;
  nxt = l->z0 + l->nzl < l->n[0] ? Owner(l, l->z0 + l->nzl) : -1;
  if (!((want_below || want_above) && (prv >= 0 || nxt >= 0))) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_HALO, 0, 0, 0, 0));
  PetscCall(PetscMPIIntCast(l->n[1] * l->n[2], &cnt));
  PetscCall(PetscMPIIntCast(l->n[1], &n1));
  PetscCall(PetscMPIIntCast(l->n[2], &n2));
  PetscCall(PetscMPIIntCast(l->rs, &rs));
  /* Send straight from the (possibly row-padded) slab: n[1] rows of n[2] floats, stride rs. */
  PetscCallMPI(MPI_Type_vector(n1, n2, rs, MPI_FLOAT, &ex->plane));
  PetscCallMPI(MPI_Type_commit(&ex->plane));
  if (want_below && prv >= 0) {
    PetscCheck(below, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "no buffer for the ghost plane below");
    PetscCallMPI(MPI_Irecv(below, cnt, MPI_FLOAT, prv, PD_PLANE_TAG_UP, l->comm, &ex->req[0]));
    ex->has_below = PETSC_TRUE;
  }
  if (want_above && nxt >= 0) {
    PetscCheck(above, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "no buffer for the ghost plane above");
    PetscCallMPI(MPI_Irecv(above, cnt, MPI_FLOAT, nxt, PD_PLANE_TAG_DOWN, l->comm, &ex->req[1]));
    ex->has_above = PETSC_TRUE;
  }
  /* The previous rank's ghost above is my first plane, the next rank's ghost below my last. */
  if (want_above && prv >= 0) PetscCallMPI(MPI_Isend(v, 1, ex->plane, prv, PD_PLANE_TAG_DOWN, l->comm, &ex->req[2]));
  if (want_below && nxt >= 0) PetscCallMPI(MPI_Isend(v + (l->nzl - 1) * l->ps, 1, ex->plane, nxt, PD_PLANE_TAG_UP, l->comm, &ex->req[3]));
  PetscCall(PetscLogEventEnd(PD_EV_HALO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlaneExchangeWait(PdPlaneExchange *ex, int which)
{
  PetscFunctionBegin;
  PetscCheck(which == 0 || which == 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "plane exchange: which must be 0 (below) or 1 (above)");
  if (ex->req[which] == MPI_REQUEST_NULL) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_HALO, 0, 0, 0, 0));
  PetscCallMPI(MPI_Wait(&ex->req[which], MPI_STATUS_IGNORE));
  PetscCall(PetscLogEventEnd(PD_EV_HALO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPlaneExchangeEnd(PdPlaneExchange *ex)
{
  PetscFunctionBegin;
  if (ex->plane == MPI_DATATYPE_NULL) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_HALO, 0, 0, 0, 0));
  PetscCallMPI(MPI_Waitall(4, ex->req, MPI_STATUSES_IGNORE));
  PetscCallMPI(MPI_Type_free(&ex->plane));
  PetscCall(PetscLogEventEnd(PD_EV_HALO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

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
  float           iw[3], *above = NULL;
  PdPlaneExchange ex;

  PetscFunctionBegin;
  PetscCall(InverseSpacings(l, w, iw));
  if (l->nzl > 0 && l->z0 + l->nzl < l->n[0]) PetscCall(PetscMalloc1(n1 * n2, &above));
  PetscCall(PdPlaneExchangeBegin(l, u, PETSC_FALSE, PETSC_TRUE, NULL, above, &ex));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    const float *uc = u + zl * l->ps, *un = NULL; /* plane z and plane z + 1 (NULL: z is the last) */
    ptrdiff_t    unrs = l->rs;
    if (zl + 1 < l->nzl) un = uc + l->ps;
    else if (above) {
      PetscCall(PdPlaneExchangeWait(&ex, 1));
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
  PetscCall(PdPlaneExchangeEnd(&ex));
  PetscCall(PetscFree(above));
  PetscFunctionReturn(0);
}

PetscErrorCode PdGradientAdjoint(const PdLayout *l, const double w[3], const float *pz, const float *py, const float *px, float *out)
{
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2];
  float           iw[3], *below = NULL;
  PdPlaneExchange ex;

  PetscFunctionBegin;
  PetscCall(InverseSpacings(l, w, iw));
  if (l->nzl > 0 && l->z0 > 0) PetscCall(PetscMalloc1(n1 * n2, &below));
  PetscCall(PdPlaneExchangeBegin(l, pz, PETSC_TRUE, PETSC_FALSE, below, NULL, &ex));
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
  PetscCall(PdPlaneExchangeWait(&ex, 0));
  if (below)
    for (ptrdiff_t y = 0; y < n1; y++)
      for (ptrdiff_t x = 0; x < n2; x++) out[y * l->rs + x] += below[y * n2 + x] * iw[0];
  PetscCall(PdPlaneExchangeEnd(&ex));
  PetscCall(PetscFree(below));
  PetscFunctionReturn(0);
}
