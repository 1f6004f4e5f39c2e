/* The fused stencil passes of a TV splitting (ADMM's z3 = w Dx block; see tv_split.h): forward
   differences D with Neumann or periodic ends, the isotropic shrinkage S_t and Dᵀ in one streaming
   pass each, so that no flux volume is ever formed. Rows are built by one function (FRow) whether
   they lie in the slab or in a ghost plane, so results do not depend on the distribution. Ghost
   planes come from PdHaloBegin: zero outside the volume with Neumann ends, wrapped when periodic. */
#include <pdecon/ops/tv_split.h>
#include <math.h>
#include <string.h>

/* Ghost planes of nc volumes: below <- plane z0 - 1, above <- plane z0 + nzl (compact, nc planes
   each; NULL when not wanted), wrapped when periodic. *hb / *ha: whether that plane exists (Neumann
   ends have none at the volume's faces; a rank with no planes uses none). want_below / want_above
   must agree on every rank. Blocking. */
static PetscErrorCode ExchangePlanes(const PdLayout *l, PetscBool periodic, int nc, const float *const v[], PetscBool want_below, PetscBool want_above, float *below, float *above, PetscBool *hb,
                                     PetscBool *ha)
{
  const ptrdiff_t pl = l->n[1] * l->n[2];
  PdHalo          h[3];

  PetscFunctionBegin;
  *hb = *ha = PETSC_FALSE;
  PetscCheck(nc >= 1 && nc <= 3, l->comm, PETSC_ERR_ARG_OUTOFRANGE, "at most 3 volumes per exchange (got %d)", nc);
  for (int c = 0; c < nc; c++)
    PetscCall(PdHaloBegin(l, v[c], want_below ? 1 : 0, want_above ? 1 : 0, periodic ? PD_HALO_PERIODIC : PD_HALO_ZERO, want_below ? below + c * pl : NULL, want_above ? above + c * pl : NULL, &h[c]));
  for (int c = 0; c < nc; c++) PetscCall(PdHaloEnd(&h[c]));
  *hb = (PetscBool)(want_below && l->nzl > 0 && (periodic || l->z0 > 0));
  *ha = (PetscBool)(want_above && l->nzl > 0 && (periodic || l->z0 + l->nzl < l->n[0]));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTVSplitWorkCreate(const PdLayout *l, PdTVSplitWork *b)
{
  size_t pl = (size_t)(l->n[1] * l->n[2]);

  PetscFunctionBegin;
  b->n1 = l->n[1];
  b->n2 = l->n[2];
  PetscCall(PetscMalloc5(pl, &b->xb, pl, &b->xa, 3 * pl, &b->vb, pl, &b->fzp, 9 * (size_t)l->n[2], &b->row));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTVSplitWorkDestroy(PdTVSplitWork *b)
{
  PetscFunctionBegin;
  PetscCall(PetscFree5(b->xb, b->xa, b->vb, b->fzp, b->row));
  PetscFunctionReturn(0);
}

/* One row of Du: r the row of u, ry the next row (NULL: none), rz the same row of the next plane
   (NULL: none). Neumann ends: 0 at the last voxel; periodic: wrap (ry, rz are then never NULL). */
static inline void GradRow(ptrdiff_t n2, PetscBool periodic, const float *r, const float *ry, const float *rz, float *gz, float *gy, float *gx)
{
  for (ptrdiff_t x = 0; x + 1 < n2; x++) gx[x] = r[x + 1] - r[x];
  gx[n2 - 1] = periodic ? r[0] - r[n2 - 1] : 0.0f;
  if (ry)
    for (ptrdiff_t x = 0; x < n2; x++) gy[x] = ry[x] - r[x];
  else memset(gy, 0, sizeof(float) * (size_t)n2);
  if (rz)
    for (ptrdiff_t x = 0; x < n2; x++) gz[x] = rz[x] - r[x];
  else memset(gz, 0, sizeof(float) * (size_t)n2);
}

/* One row of f. v rows vz, vy, vx (NULL when a = b = 0), u rows as in GradRow (r NULL when
   g = 0). Neumann: f_x is 0 at the last voxel (D has no row there). The same arithmetic wherever the
   row lives (local or ghost), so results do not depend on the distribution. */
static void FRow(ptrdiff_t n2, PetscBool periodic, PdTVSplitCoef k, const float *vz, const float *vy, const float *vx, const float *r, const float *ry, const float *rz, float *g3, float *fz,
                 float *fy, float *fx)
{
  float *gz = g3, *gy = g3 + n2, *gx = g3 + 2 * n2;

  if (r) GradRow(n2, periodic, r, ry, rz, gz, gy, gx);
  else memset(g3, 0, sizeof(float) * 3 * (size_t)n2);
  if (vz) {
#pragma omp simd
    for (ptrdiff_t x = 0; x < n2; x++) {
      const float n = sqrtf(vz[x] * vz[x] + vy[x] * vy[x] + vx[x] * vx[x]);
      const float c = k.a * (n > k.t ? 1.0f - k.t / n : 0.0f) + k.b;
      fz[x] = c * vz[x] + k.g * gz[x];
      fy[x] = c * vy[x] + k.g * gy[x];
      fx[x] = c * vx[x] + k.g * gx[x];
    }
  } else {
#pragma omp simd
    for (ptrdiff_t x = 0; x < n2; x++) {
      fz[x] = k.g * gz[x];
      fy[x] = k.g * gy[x];
      fx[x] = k.g * gx[x];
    }
  }
  if (!periodic) fx[n2 - 1] = 0.0f;
}

/* Streams over the slab plane by plane, keeping the z component of f of the previous plane; the
   plane below the slab comes from ghost planes of v (3) and u. */
PetscErrorCode PdTVSplitAdjointAdd(const PdLayout *l, PetscBool periodic, PdTVSplitWork *B, float *const v[3], const float *u, PdTVSplitCoef k, float cid, float *out)
{
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2], rs = l->rs, ps = l->ps;
  const PetscBool usev = (PetscBool)(v && (k.a != 0 || k.b != 0)), useu = (PetscBool)(u && k.g != 0);
  PetscBool       hb = PETSC_FALSE, ha = PETSC_FALSE, hbv = PETSC_FALSE, dummy;
  float          *g3 = B->row, *fz = B->row + 3 * n2, *fy = B->row + 4 * n2, *fx = B->row + 5 * n2, *fyp = B->row + 6 * n2;

  PetscFunctionBegin;
  if (useu) PetscCall(ExchangePlanes(l, periodic, 1, &u, PETSC_TRUE, PETSC_TRUE, B->xb, B->xa, &hb, &ha));
  if (usev) PetscCall(ExchangePlanes(l, periodic, 3, (const float *const *)v, PETSC_TRUE, PETSC_FALSE, B->vb, NULL, &hbv, &dummy));
  if (l->nzl == 0) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  /* f_z of the plane below the slab (zero at a Neumann face) */
  if ((usev && hbv) || (useu && hb)) {
    const ptrdiff_t pl = n1 * n2;
    for (ptrdiff_t y = 0; y < n1; y++) {
      const float *r = useu ? B->xb + y * n2 : NULL, *ry = NULL;
      if (r) ry = y + 1 < n1 ? r + n2 : (periodic ? B->xb : NULL);
      FRow(n2, periodic, k, usev ? B->vb + y * n2 : NULL, usev ? B->vb + pl + y * n2 : NULL, usev ? B->vb + 2 * pl + y * n2 : NULL, r, ry, useu ? u + y * rs : NULL, g3, fz, fy, fx);
      memcpy(B->fzp + y * n2, fz, sizeof(float) * (size_t)n2);
    }
  } else memset(B->fzp, 0, sizeof(float) * (size_t)(n1 * n2));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    const PetscBool lastz = (PetscBool)(!periodic && l->z0 + zl == l->n[0] - 1);
    const float    *uc = useu ? u + zl * ps : NULL, *un = NULL;
    ptrdiff_t       unrs = rs;
    if (useu) {
      if (zl + 1 < l->nzl) un = uc + ps;
      else if (ha) {
        un   = B->xa;
        unrs = n2;
      }
    }
#define VROWS(y) usev ? v[0] + zl * ps + (y) * rs : NULL, usev ? v[1] + zl * ps + (y) * rs : NULL, usev ? v[2] + zl * ps + (y) * rs : NULL
#define UROWS(y) uc ? uc + (y) * rs : NULL, uc ? ((y) + 1 < n1 ? uc + ((y) + 1) * rs : (periodic ? uc : NULL)) : NULL, un ? un + (y) * unrs : NULL
    if (periodic) {
      /* f_y of the last row precedes row 0 */
      FRow(n2, periodic, k, VROWS(n1 - 1), UROWS(n1 - 1), g3, fz, fyp, fx);
    } else memset(fyp, 0, sizeof(float) * (size_t)n2);
    for (ptrdiff_t y = 0; y < n1; y++) {
      float *restrict       o  = out + zl * ps + y * rs;
      float *restrict       zp = B->fzp + y * n2;
      const float *restrict ur = uc ? uc + y * rs : NULL;
      FRow(n2, periodic, k, VROWS(y), UROWS(y), g3, fz, fy, fx);
      if (lastz) memset(fz, 0, sizeof(float) * (size_t)n2);
      if (!periodic && y == n1 - 1) memset(fy, 0, sizeof(float) * (size_t)n2);
      const float fxm = periodic ? fx[n2 - 1] : 0.0f;
      o[0] += (fxm - fx[0]) + (fyp[0] - fy[0]) + (zp[0] - fz[0]) + (ur ? cid * ur[0] : 0.0f);
      if (ur) {
#pragma omp simd
        for (ptrdiff_t x = 1; x < n2; x++) o[x] += (fx[x - 1] - fx[x]) + (fyp[x] - fy[x]) + (zp[x] - fz[x]) + cid * ur[x];
      } else {
#pragma omp simd
        for (ptrdiff_t x = 1; x < n2; x++) o[x] += (fx[x - 1] - fx[x]) + (fyp[x] - fy[x]) + (zp[x] - fz[x]);
      }
      memcpy(zp, fz, sizeof(float) * (size_t)n2);
      memcpy(fyp, fy, sizeof(float) * (size_t)n2);
      PdZeroRowPadding(l, zl, y, o);
    }
#undef VROWS
#undef UROWS
  }
  PetscCall(PetscLogFlops(30.0 * (double)(l->nzl * n1 * n2)));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTVSplitForwardUpdate(const PdLayout *l, PetscBool periodic, PdTVSplitWork *B, const float *u, float *const v[3], float gain, float kappa, float t, double acc[2])
{
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2], rs = l->rs, ps = l->ps;
  PetscBool       hb, ha;
  double          pr = 0, tv = 0;
  float          *gz = B->row, *gy = B->row + n2, *gx = B->row + 2 * n2;

  PetscFunctionBegin;
  PetscCall(ExchangePlanes(l, periodic, 1, &u, PETSC_FALSE, PETSC_TRUE, NULL, B->xa, &hb, &ha));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    const float *uc = u + zl * ps, *un = NULL;
    ptrdiff_t    unrs = rs;
    if (zl + 1 < l->nzl) un = uc + ps;
    else if (ha) {
      un   = B->xa;
      unrs = n2;
    }
    for (ptrdiff_t y = 0; y < n1; y++) {
      const float *r = uc + y * rs, *ry = y + 1 < n1 ? r + rs : (periodic ? uc : NULL);
      float *restrict vz = v[0] + zl * ps + y * rs, *restrict vy = v[1] + zl * ps + y * rs, *restrict vx = v[2] + zl * ps + y * rs;
      GradRow(n2, periodic, r, ry, un ? un + y * unrs : NULL, gz, gy, gx);
#pragma omp simd reduction(+ : pr, tv)
      for (ptrdiff_t x = 0; x < n2; x++) {
        const float n0 = sqrtf(vz[x] * vz[x] + vy[x] * vy[x] + vx[x] * vx[x]);
        const float c0 = kappa * (n0 > t ? t / n0 : 1.0f); /* kappa (1 - shrink factor): u_k = c0 v */
        const float az = gain * gz[x] + c0 * vz[x], ay = gain * gy[x] + c0 * vy[x], ax = gain * gx[x] + c0 * vx[x];
        const float n1v = sqrtf(az * az + ay * ay + ax * ax);
        const float s1  = n1v > t ? 1.0f - t / n1v : 0.0f;
        const float dz = gain * gz[x] - s1 * az, dy = gain * gy[x] - s1 * ay, dx = gain * gx[x] - s1 * ax;
        pr += (double)dz * dz + (double)dy * dy + (double)dx * dx;
        tv += sqrt((double)gz[x] * gz[x] + (double)gy[x] * gy[x] + (double)gx[x] * gx[x]);
        vz[x] = az;
        vy[x] = ay;
        vx[x] = ax;
      }
      PdZeroRowPadding(l, zl, y, vz);
      PdZeroRowPadding(l, zl, y, vy);
      PdZeroRowPadding(l, zl, y, vx);
    }
  }
  acc[0] += pr;
  acc[1] += tv;
  PetscCall(PetscLogFlops(40.0 * (double)(l->nzl * n1 * n2)));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDiffGradient(const PdLayout *l, PetscBool periodic, const float *u, float *pz, float *py, float *px)
{
  PdTVSplitWork B;
  double acc[2] = {0, 0};
  float *v[3] = {pz, py, px};

  PetscFunctionBegin;
  PetscCall(PdTVSplitWorkCreate(l, &B));
  for (int i = 0; i < 3; i++) PetscCall(PetscArrayzero(v[i], PdLayoutLocalSize(l))); /* read (times 0) by the update */
  PetscCall(PdTVSplitForwardUpdate(l, periodic, &B, u, v, 1.0f, 0.0f, 0.0f, acc));
  PetscCall(PdTVSplitWorkDestroy(&B));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDiffGradientAdjointAdd(const PdLayout *l, PetscBool periodic, const float *pz, const float *py, const float *px, float *out)
{
  PdTVSplitWork B;
  float *v[3] = {(float *)pz, (float *)py, (float *)px}; /* read only */
  PdTVSplitCoef k = {0, 1, 0, 0};

  PetscFunctionBegin;
  PetscCall(PdTVSplitWorkCreate(l, &B));
  PetscCall(PdTVSplitAdjointAdd(l, periodic, &B, v, NULL, k, 0.0f, out));
  PetscCall(PdTVSplitWorkDestroy(&B));
  PetscFunctionReturn(0);
}
