/* Isotropic total variation, its gradient and the RL-TV divergence term (see tv.h for the
   equations), fused into one streaming pass over the slab.

   Per voxel v the flux is q(v) = Du(v) / N(v), N = sqrt(|Du|^2 + eps) (q = 0 where N = 0), and
     grad(v) = sum over axes a of (q_a(v - e_a) - q_a(v)) / w_a,
   with q_a = 0 at the last voxel along a (Du is 0 there) and before the first. q(v) needs u at v
   and its forward neighbours; grad(v) needs q at v and its backward neighbours. Going plane by plane,
   row by row, the x and y fluxes of the current and previous row are kept in row buffers and the
   z flux of the previous plane in one plane buffer: no temporary volume.

   Across ranks: the last local plane needs u at z0 + nzl (ghost above), and the first local plane
   needs q_z at z0 - 1, computed here from u at z0 - 1 (ghost below) and z0. To overlap the exchange
   with work, the slab is done in the order: q_z of plane z0 (to start the stream), planes
   z0 + 1 .. z0 + nzl - 1, then (ghost below arrived) q_z of plane z0 - 1 and plane z0 itself. */
#include <pdecon/ops/tv.h>
#include <math.h>

typedef struct {
  const PdLayout *l;
  double          iw[3], eps; /* 1 / spacing (z, y, x), smoothing */
  const float    *u;
  float          *above, *below; /* ghost planes z0 + nzl and z0 - 1 (compact) */
  PetscBool       has_above, has_below; /* the volume continues on another slab there */
  PdHalo          ex;
  double         *qzp;           /* z flux of the previous plane, n[1] x n[2] */
  double         *qx, *qz, *qy[2], *zero; /* row buffers; zero: a row of zeros */
} TVCtx;

/* Flux of one row from rows r (plane z, row y), ry (row y + 1; NULL at the last row) and rz (plane
   z + 1, row y; NULL at the last plane). Returns the row's sum of N. qx may be NULL (value only). */
static double FluxRow(const TVCtx *c, const float *r, const float *ry, const float *rz, double *qx, double *qy, double *qz)
{
  const ptrdiff_t n2  = c->l->n[2];
  double          sum = 0;
  for (ptrdiff_t x = 0; x < n2; x++) {
    const double dx = x + 1 < n2 ? ((double)r[x + 1] - (double)r[x]) * c->iw[2] : 0.0;
    const double dy = ry ? ((double)ry[x] - (double)r[x]) * c->iw[1] : 0.0;
    const double dz = rz ? ((double)rz[x] - (double)r[x]) * c->iw[0] : 0.0;
    const double nrm = sqrt(dx * dx + dy * dy + dz * dz + c->eps), s = nrm > 0 ? 1.0 / nrm : 0.0;
    sum += nrm;
    if (qx) {
      qx[x] = dx * s;
      qy[x] = dy * s;
      qz[x] = dz * s;
    }
  }
  return sum;
}

/* Plane z0 + zl + 1 of u and its row stride, or NULL when z0 + zl is the last plane of the volume;
   waits for the ghost above when needed. */
static PetscErrorCode NextPlane(TVCtx *c, ptrdiff_t zl, const float **un, ptrdiff_t *rs)
{
  const PdLayout *l = c->l;

  PetscFunctionBegin;
  *un = NULL;
  *rs = l->rs;
  if (zl + 1 < l->nzl) *un = c->u + (zl + 1) * l->ps;
  else if (c->has_above) {
    PetscCall(PdHaloWait(&c->ex));
    *un = c->above;
    *rs = l->n[2];
  }
  PetscFunctionReturn(0);
}

/* q_z of plane p (rows with stride prs) whose next plane is pn (stride pnrs, NULL: none) into qzp. */
static void FluxZPlane(TVCtx *c, const float *p, ptrdiff_t prs, const float *pn, ptrdiff_t pnrs)
{
  const ptrdiff_t n1 = c->l->n[1], n2 = c->l->n[2];
  for (ptrdiff_t y = 0; y < n1; y++) {
    const float *r = p + y * prs;
    (void)FluxRow(c, r, y + 1 < n1 ? r + prs : NULL, pn ? pn + y * pnrs : NULL, c->qx, c->qy[0], c->qzp + y * n2);
  }
}

/* Gradient (times sign) of local plane zl into g, given q_z of the previous plane in qzp, which is
   replaced by q_z of this plane. Returns the plane's sum of N. */
static PetscErrorCode GradPlane(TVCtx *c, ptrdiff_t zl, double sign, float *g, double *sum)
{
  const PdLayout *l  = c->l;
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2];
  const float    *uc = c->u + zl * l->ps, *un;
  ptrdiff_t       unrs;
  double          s  = 0;

  PetscFunctionBegin;
  PetscCall(NextPlane(c, zl, &un, &unrs));
  for (ptrdiff_t y = 0; y < n1; y++) {
    const float *r   = uc + y * l->rs;
    double      *qyc = c->qy[y % 2], *qyp = y > 0 ? c->qy[(y + 1) % 2] : c->zero, *qzp = c->qzp + y * n2;
    float       *o   = g + zl * l->ps + y * l->rs;
    s += FluxRow(c, r, y + 1 < n1 ? r + l->rs : NULL, un ? un + y * unrs : NULL, c->qx, qyc, c->qz);
    for (ptrdiff_t x = 0; x < n2; x++) {
      const double gx = ((x > 0 ? c->qx[x - 1] : 0.0) - c->qx[x]) * c->iw[2];
      const double gy = (qyp[x] - qyc[x]) * c->iw[1];
      const double gz = (qzp[x] - c->qz[x]) * c->iw[0];
      o[x]            = (float)(sign * (gx + gy + gz));
      qzp[x]          = c->qz[x];
    }
    PdZeroRowPadding(l, zl, y, o);
  }
  *sum += s;
  PetscFunctionReturn(0);
}

/* g == NULL: value only. Otherwise g = sign * grad TV_eps(u). value (may be NULL) = TV_eps(u). */
static PetscErrorCode TVApply(const PdLayout *l, const double w[3], double eps, const float *u, float *g, double sign, double *value)
{
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2];
  TVCtx           c;
  double          sum = 0;

  PetscFunctionBegin;
  PetscCheck(eps >= 0 && !PetscIsInfOrNanReal(eps), l->comm, PETSC_ERR_ARG_OUTOFRANGE, "TV smoothing eps must be non-negative and finite (got %.6g)", eps);
  for (int d = 0; d < 3; d++) {
    double s = w ? w[d] : 1.0;
    PetscCheck(s > 0 && PetscIsNormalReal(s), l->comm, PETSC_ERR_ARG_OUTOFRANGE, "voxel spacing %d must be positive and finite (got %.6g)", d, s);
    c.iw[d] = 1.0 / s;
  }
  c.l     = l;
  c.eps   = eps;
  c.u     = u;
  c.above = c.below = NULL;
  c.qzp = c.qx = c.qz = c.qy[0] = c.qy[1] = c.zero = NULL;
  c.has_above = (PetscBool)(l->nzl > 0 && l->z0 + l->nzl < l->n[0]);
  c.has_below = (PetscBool)(g && l->nzl > 0 && l->z0 > 0);
  PetscCall(PetscMalloc1(n1 * n2, &c.above));
  if (g) PetscCall(PetscMalloc1(n1 * n2, &c.below));
  PetscCall(PdHaloBegin(l, u, g ? 1 : 0, 1, PD_HALO_ZERO, c.below, c.above, &c.ex));

  if (!g) {
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
      const float *un;
      ptrdiff_t    unrs;
      PetscCall(NextPlane(&c, zl, &un, &unrs));
      for (ptrdiff_t y = 0; y < n1; y++) {
        const float *r = u + zl * l->ps + y * l->rs;
        sum += FluxRow(&c, r, y + 1 < n1 ? r + l->rs : NULL, un ? un + y * unrs : NULL, NULL, NULL, NULL);
      }
    }
  } else if (l->nzl > 0) {
    const float *un;
    ptrdiff_t    unrs;
    PetscCall(PetscMalloc5(n1 * n2, &c.qzp, n2, &c.qx, n2, &c.qz, 2 * n2, &c.qy[0], n2, &c.zero));
    c.qy[1] = c.qy[0] + n2;
    for (ptrdiff_t x = 0; x < n2; x++) c.zero[x] = 0;
    /* Start the stream: q_z of the first local plane. */
    PetscCall(NextPlane(&c, 0, &un, &unrs));
    FluxZPlane(&c, u, l->rs, un, unrs);
    for (ptrdiff_t zl = 1; zl < l->nzl; zl++) PetscCall(GradPlane(&c, zl, sign, g, &sum));
    /* Finish with the first plane: q_z of plane z0 - 1 (0 before the volume). */
    PetscCall(PdHaloWait(&c.ex));
    if (c.has_below) FluxZPlane(&c, c.below, n2, u, l->rs);
    else
      for (ptrdiff_t i = 0; i < n1 * n2; i++) c.qzp[i] = 0;
    PetscCall(GradPlane(&c, 0, sign, g, &sum));
  }
  PetscCall(PdHaloEnd(&c.ex));
  if (value) {
    PetscCall(PdAllreduceSum(l->comm, &sum, 1));
    *value = sum;
  }
  if (c.qzp) PetscCall(PetscFree5(c.qzp, c.qx, c.qz, c.qy[0], c.zero));
  PetscCall(PetscFree(c.above));
  PetscCall(PetscFree(c.below));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTVValue(const PdLayout *lay, const double w[3], double eps, const float *u, double *value)
{
  PetscFunctionBegin;
  PetscCall(TVApply(lay, w, eps, u, NULL, 1.0, value));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTVGradient(const PdLayout *lay, const double w[3], double eps, const float *u, float *grad, double *value)
{
  PetscFunctionBegin;
  PetscCall(TVApply(lay, w, eps, u, grad, 1.0, value));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTVDivergence(const PdLayout *lay, const double w[3], double eps, const float *u, float *out)
{
  PetscFunctionBegin;
  PetscCall(TVApply(lay, w, eps, u, out, -1.0, NULL));
  PetscFunctionReturn(0);
}
