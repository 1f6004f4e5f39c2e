/* Forward differences, their adjoint and total variation on slab layouts: <Du, p> = <u, Dᵀp>,
   differences of a ramp, padding left at 0 and never read, TV gradient against central differences
   of the TV value, and the same results on 1 rank as on N (uneven slabs, ranks with no planes,
   padded strides). */
/* ranks: 1 2 3 4 */
#include "testutil.h"
#include <pdecon/ops/tv.h>
#include <math.h>

/* Layout case c of 3 on comm (its slab split depends on the number of ranks). */
static PetscErrorCode MakeLayout(MPI_Comm comm, int c, PdLayout **l, const char **what)
{
  int rank, size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (c == 0) {
    ptrdiff_t n[3] = {7, 5, 6};
    *what          = "7x5x6 block, compact";
    PetscCall(PdLayoutCreateBlock(comm, n, l));
  } else if (c == 1) {
    /* Uneven slabs with empty ranks at the start and in the middle, padded rows and planes. */
    ptrdiff_t       n[3] = {6, 3, 5}, z0 = 0, nz = 0;
    const ptrdiff_t c4[4] = {2, 0, 3, 1}, c3[3] = {0, 4, 2}, c2[2] = {6, 0};
    *what = "6x3x5 uneven slabs, padded rows and planes";
    for (int r = 0; r <= rank; r++) {
      nz = size == 4 ? c4[r] : size == 3 ? c3[r] : size == 2 ? c2[r] : 6;
      if (r < rank) z0 += nz;
    }
    PetscCall(PdLayoutCreate(comm, n, z0, nz, 7, 3 * 7 + 2, l));
  } else {
    /* 3 planes: on 4 ranks the last owns none; FFT-style row padding 2 (nx / 2 + 1). */
    ptrdiff_t n[3] = {3, 4, 5}, b, z0, nz;
    *what = "3x4x5 block, FFT row padding";
    b     = (n[0] + size - 1) / size;
    z0    = PetscMin(n[0], rank * b);
    nz    = PetscMin(n[0], z0 + b) - z0;
    PetscCall(PdLayoutCreate(comm, n, z0, nz, 6, 4 * 6, l));
  }
  PetscFunctionReturn(0);
}

/* A volume of layout l: voxels from a seeded global random field (rank independent) scaled by
   scale, padding set to pad. */
static PetscErrorCode RandomVolume(const PdLayout *l, unsigned long long seed, double scale, float pad, float **v)
{
  size_t    m = PdLayoutLocalSize(l);
  ptrdiff_t N = PdLayoutGlobalCount(l);
  float    *all;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc(m, v));
  for (size_t i = 0; i < m; i++) (*v)[i] = pad;
  PetscCall(PetscMalloc1(N, &all));
  for (ptrdiff_t i = 0; i < N; i++) all[i] = (float)(scale * PdTestUniform(&seed));
  PetscCall(PdVolumeScatterFromGlobal(l, all, *v));
  PetscCall(PetscFree(all));
  PetscFunctionReturn(0);
}

/* Number of local non-voxel entries (padding) that are not 0. */
static ptrdiff_t BadPadding(const PdLayout *l, const float *v)
{
  ptrdiff_t bad = 0;
  size_t    m   = l->nzl > 0 ? PdLayoutLocalSize(l) : 0;
  for (size_t i = 0; i < m; i++) {
    ptrdiff_t z = (ptrdiff_t)i / l->ps, rem = (ptrdiff_t)i % l->ps, y = rem / l->rs, x = rem % l->rs;
    if ((y >= l->n[1] || x >= l->n[2]) && v[i] != 0) bad++;
    (void)z;
  }
  return bad;
}

/* <a, b> over all ranks, and the sum of |a_i b_i| (the scale for its rounding error). */
static PetscErrorCode Dot(const PdLayout *l, const float *a, const float *b, double *d, double *scale)
{
  double s[2] = {0, 0};

  PetscFunctionBegin;
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t x = 0; x < l->n[2]; x++) {
        ptrdiff_t i = z * l->ps + y * l->rs + x;
        s[0] += (double)a[i] * (double)b[i];
        s[1] += fabs((double)a[i] * (double)b[i]);
      }
  PetscCall(PdAllreduceSum(l->comm, s, 2));
  *d     = s[0];
  *scale = s[1];
  PetscFunctionReturn(0);
}

/* <Du, p> = <u, Dᵀp>; padding of inputs is NaN (must never be read), of outputs garbage (must end 0). */
static PetscErrorCode TestAdjoint(const PdLayout *l, const double *w, const char *what)
{
  size_t m = PdLayoutLocalSize(l);
  float *u, *p[3], *du[3], *dtp;
  double lhs = 0, rhs, d, sc, scale = 0;

  PetscFunctionBegin;
  PetscCall(RandomVolume(l, 11, 1.0, NAN, &u));
  for (int a = 0; a < 3; a++) {
    PetscCall(RandomVolume(l, 20 + a, 2.0, NAN, &p[a]));
    PetscCall(PdVolumeAlloc(m, &du[a]));
    for (size_t i = 0; i < m; i++) du[a][i] = 99;
  }
  PetscCall(PdVolumeAlloc(m, &dtp));
  for (size_t i = 0; i < m; i++) dtp[i] = 99;
  PetscCall(PdGradient(l, w, u, du[0], du[1], du[2]));
  PetscCall(PdGradientAdjoint(l, w, p[0], p[1], p[2], dtp));
  for (int a = 0; a < 3; a++) {
    PetscCall(Dot(l, du[a], p[a], &d, &sc));
    lhs += d;
    scale += sc;
    PD_EXPECT(BadPadding(l, du[a]) == 0, "%s: gradient component %d padding not zero", what, a);
  }
  PetscCall(Dot(l, u, dtp, &rhs, &sc));
  scale = PetscMax(scale, sc);
  PD_EXPECT(BadPadding(l, dtp) == 0, "%s: adjoint padding not zero", what);
  /* Float rounding: a few ulps of the terms, relative to the sum of their magnitudes. */
  PD_EXPECT(fabs(lhs - rhs) < 1e-6 * scale, "%s, %s: <Du, p> = %.9g, <u, Dtp> = %.9g (scale %g)", what, w ? "weighted" : "unit", lhs, rhs, scale);
  PetscCall(PetscPrintf(l->comm, "%s, %s: <Du,p> %.9g  <u,Dtp> %.9g  |diff| / sum|terms| %.1e\n", what, w ? "weighted" : "unit", lhs, rhs, fabs(lhs - rhs) / scale));
  for (int a = 0; a < 3; a++) {
    PetscCall(PdVolumeFree(&p[a]));
    PetscCall(PdVolumeFree(&du[a]));
  }
  PetscCall(PdVolumeFree(&u));
  PetscCall(PdVolumeFree(&dtp));
  PetscFunctionReturn(0);
}

/* D of u = 3 z - 2 y + 0.5 x is (3 / wz, -2 / wy, 0.5 / wx) except 0 at the last voxel per axis. */
static PetscErrorCode TestRamp(const PdLayout *l, const double *w, const char *what)
{
  const double slope[3] = {3, -2, 0.5};
  size_t       m        = PdLayoutLocalSize(l);
  float       *u, *du[3];
  ptrdiff_t    bad = 0;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc(m, &u));
  for (int a = 0; a < 3; a++) PetscCall(PdVolumeAlloc(m, &du[a]));
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t x = 0; x < l->n[2]; x++) u[z * l->ps + y * l->rs + x] = (float)(3 * (l->z0 + z) - 2 * y + 0.5 * x);
  PetscCall(PdGradient(l, w, u, du[0], du[1], du[2]));
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t x = 0; x < l->n[2]; x++) {
        const ptrdiff_t idx[3] = {l->z0 + z, y, x};
        for (int a = 0; a < 3; a++) {
          double want = idx[a] == l->n[a] - 1 ? 0.0 : slope[a] / (w ? w[a] : 1.0), got = du[a][z * l->ps + y * l->rs + x];
          if (fabs(got - want) > 1e-6 * fabs(want)) bad++;
        }
      }
  PD_EXPECT(bad == 0, "%s, %s: %td wrong ramp differences", what, w ? "weighted" : "unit", bad);
  PetscCall(PdVolumeFree(&u));
  for (int a = 0; a < 3; a++) PetscCall(PdVolumeFree(&du[a]));
  PetscFunctionReturn(0);
}

/* dTV/du at a few voxels against (TV(u + h e) - TV(u - h e)) / (2h), smoothed TV. Voxels at the
   volume's faces, at slab boundaries and inside. */
static PetscErrorCode TestTVGradientFD(const PdLayout *l, const double *w, double eps, const char *what)
{
  size_t          m        = PdLayoutLocalSize(l);
  const ptrdiff_t vox[6][3] = {{0, 0, 0}, {l->n[0] - 1, l->n[1] - 1, l->n[2] - 1}, {1, 2, 3}, {l->n[0] / 2, 1, 0}, {l->n[0] - 1, 0, 2}, {2 % l->n[0], l->n[1] - 1, 1}};
  float          *u, *g, *dv;
  double          v, vg, maxrel = 0;

  PetscFunctionBegin;
  PetscCall(RandomVolume(l, 5, 1.0, NAN, &u));
  PetscCall(PdVolumeAlloc(m, &g));
  PetscCall(PdVolumeAlloc(m, &dv));
  PetscCall(PdTVGradient(l, w, eps, u, g, &vg));
  PetscCall(PdTVValue(l, w, eps, u, &v));
  PD_EXPECT(fabs(v - vg) <= 1e-14 * v, "%s: TV value %.17g from PdTVGradient differs from PdTVValue %.17g", what, vg, v);
  PetscCall(PdTVDivergence(l, w, eps, u, dv));
  {
    ptrdiff_t bad = 0;
    for (ptrdiff_t z = 0; z < l->nzl; z++)
      for (ptrdiff_t y = 0; y < l->n[1]; y++)
        for (ptrdiff_t x = 0; x < l->n[2]; x++)
          if (dv[z * l->ps + y * l->rs + x] != -g[z * l->ps + y * l->rs + x]) bad++;
    PD_EXPECT(bad == 0, "%s: divergence is not minus the TV gradient at %td voxels", what, bad);
    PD_EXPECT(BadPadding(l, g) == 0 && BadPadding(l, dv) == 0, "%s: TV gradient padding not zero", what);
  }
  for (int i = 0; i < 6; i++) {
    const ptrdiff_t *p   = vox[i];
    const PetscBool  own = p[0] >= l->z0 && p[0] < l->z0 + l->nzl;
    const ptrdiff_t  idx = (p[0] - l->z0) * l->ps + p[1] * l->rs + p[2];
    const double     h   = 1e-4;
    float            u0 = 0, up = 0, um = 0;
    double           vp, vm, fd, an = 0, buf[2];
    if (own) {
      u0 = u[idx];
      up = (float)(u0 + h);
      um = (float)(u0 - h);
      an = g[idx];
      u[idx] = up;
    }
    PetscCall(PdTVValue(l, w, eps, u, &vp));
    if (own) u[idx] = um;
    PetscCall(PdTVValue(l, w, eps, u, &vm));
    if (own) u[idx] = u0;
    /* The step actually taken (float rounding of u +- h) and the analytic value, from the owner. */
    buf[0] = own ? (double)up - (double)um : 0;
    buf[1] = an;
    PetscCall(PdAllreduceSum(l->comm, buf, 2));
    fd     = (vp - vm) / buf[0];
    maxrel = PetscMax(maxrel, fabs(fd - buf[1]) / PetscMax(fabs(fd), 1e-3));
  }
  PD_EXPECT(maxrel < 1e-5, "%s, eps %g: TV gradient differs from central differences by %g (relative)", what, eps, maxrel);
  PetscCall(PetscPrintf(l->comm, "%s, %s, eps %g: TV %.6f, gradient vs central differences max rel %.1e\n", what, w ? "weighted" : "unit", eps, v, maxrel));
  PetscCall(PdVolumeFree(&u));
  PetscCall(PdVolumeFree(&g));
  PetscCall(PdVolumeFree(&dv));
  PetscFunctionReturn(0);
}

/* Distributed results (gathered) against the same computation on PETSC_COMM_SELF on rank 0. */
static PetscErrorCode TestSerial(const PdLayout *l, const double *w, double eps, const char *what)
{
  size_t    m = PdLayoutLocalSize(l);
  float    *u, *g, *p[3], *du[3], *dtp, *ga, *dua[3], *dtpa;
  double    v, vs = 0;
  PdLayout *s;

  PetscFunctionBegin;
  PetscCall(RandomVolume(l, 7, 10.0, NAN, &u));
  PetscCall(PdVolumeAlloc(m, &g));
  PetscCall(PdVolumeAlloc(m, &dtp));
  for (int a = 0; a < 3; a++) {
    PetscCall(RandomVolume(l, 30 + a, 1.0, NAN, &p[a]));
    PetscCall(PdVolumeAlloc(m, &du[a]));
  }
  PetscCall(PdTVGradient(l, w, eps, u, g, &v));
  PetscCall(PdGradient(l, w, u, du[0], du[1], du[2]));
  PetscCall(PdGradientAdjoint(l, w, p[0], p[1], p[2], dtp));
  PetscCall(PdVolumeGather(l, g, 0, &ga));
  PetscCall(PdVolumeGather(l, dtp, 0, &dtpa));
  for (int a = 0; a < 3; a++) PetscCall(PdVolumeGather(l, du[a], 0, &dua[a]));
  if (l->rank == 0) {
    size_t N = (size_t)PdLayoutGlobalCount(l);
    float *su, *sg, *sp[3], *sdu[3], *sdtp;
    double rg, rdtp, rdu = 0;
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, l->n, &s));
    PetscCall(RandomVolume(s, 7, 10.0, NAN, &su));
    PetscCall(PdVolumeAlloc(N, &sg));
    PetscCall(PdVolumeAlloc(N, &sdtp));
    for (int a = 0; a < 3; a++) {
      PetscCall(RandomVolume(s, 30 + a, 1.0, NAN, &sp[a]));
      PetscCall(PdVolumeAlloc(N, &sdu[a]));
    }
    PetscCall(PdTVGradient(s, w, eps, su, sg, &vs));
    PetscCall(PdGradient(s, w, su, sdu[0], sdu[1], sdu[2]));
    PetscCall(PdGradientAdjoint(s, w, sp[0], sp[1], sp[2], sdtp));
    rg   = PdTestRelDiff(ga, sg, N);
    rdtp = PdTestRelDiff(dtpa, sdtp, N);
    for (int a = 0; a < 3; a++) rdu = PetscMax(rdu, PdTestRelDiff(dua[a], sdu[a], N));
    PD_EXPECT(fabs(v - vs) <= 1e-6 * fabs(vs), "%s: TV value %.17g on %d ranks, %.17g on one", what, v, l->size, vs);
    PD_EXPECT(rg == 0, "%s: TV gradient on %d ranks differs from one rank by %g (should be bitwise equal)", what, l->size, rg);
    PD_EXPECT(rdu == 0 && rdtp == 0, "%s: D / Dt on %d ranks differ from one rank by %g / %g", what, l->size, rdu, rdtp);
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "%s, eps %g: %d ranks vs 1: TV value rel %.1e, TV gradient rel %.1e, D %.1e, Dt %.1e\n", what, eps, l->size,
                          fabs(v - vs) / fabs(vs), rg, rdu, rdtp));
    PetscCall(PdVolumeFree(&su));
    PetscCall(PdVolumeFree(&sg));
    PetscCall(PdVolumeFree(&sdtp));
    for (int a = 0; a < 3; a++) {
      PetscCall(PdVolumeFree(&sp[a]));
      PetscCall(PdVolumeFree(&sdu[a]));
    }
    PetscCall(PdLayoutDestroy(&s));
  }
  PetscCall(PetscFree(ga));
  PetscCall(PetscFree(dtpa));
  for (int a = 0; a < 3; a++) {
    PetscCall(PetscFree(dua[a]));
    PetscCall(PdVolumeFree(&p[a]));
    PetscCall(PdVolumeFree(&du[a]));
  }
  PetscCall(PdVolumeFree(&u));
  PetscCall(PdVolumeFree(&g));
  PetscCall(PdVolumeFree(&dtp));
  PetscFunctionReturn(0);
}

/* Exact TV (eps = 0): a constant volume has TV 0 and gradient 0 (the subgradient choice); a step
   of height 1 across the x = 2 | 3 face has TV = (number of face voxels) / wx. */
static PetscErrorCode TestExactTV(const PdLayout *l, const double *w, const char *what)
{
  size_t    m = PdLayoutLocalSize(l);
  float    *u, *g;
  double    v;
  ptrdiff_t nonzero = 0;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc(m, &u));
  PetscCall(PdVolumeAlloc(m, &g));
  for (size_t i = 0; i < m; i++) u[i] = 2.5f;
  PetscCall(PdTVGradient(l, w, 0.0, u, g, &v));
  for (size_t i = 0; i < m; i++) nonzero += g[i] != 0;
  PD_EXPECT(v == 0 && nonzero == 0, "%s: constant volume has TV %g and %td nonzero gradient entries", what, v, nonzero);
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t x = 0; x < l->n[2]; x++) u[z * l->ps + y * l->rs + x] = x > 2 ? 1.0f : 0.0f;
  PetscCall(PdTVValue(l, w, 0.0, u, &v));
  {
    double want = (double)(l->n[0] * l->n[1]) / (w ? w[2] : 1.0);
    PD_EXPECT(fabs(v - want) < 1e-12 * want, "%s: step TV %g, expected %g", what, v, want);
  }
  PetscCall(PdVolumeFree(&u));
  PetscCall(PdVolumeFree(&g));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const double w[3] = {2.5, 0.7, 1.3};

  PetscCall(PdTestInitialize(&argc, &argv));
  for (int c = 0; c < 3; c++) {
    PdLayout   *l;
    const char *what = NULL;
    PetscCall(MakeLayout(PETSC_COMM_WORLD, c, &l, &what));
    for (int k = 0; k < 2; k++) {
      const double *wk = k ? w : NULL;
      PetscCall(TestAdjoint(l, wk, what));
      PetscCall(TestRamp(l, wk, what));
      PetscCall(TestTVGradientFD(l, wk, 0.1, what));
      PetscCall(TestTVGradientFD(l, wk, 1e-2, what));
      PetscCall(TestSerial(l, wk, 1e-3, what));
      PetscCall(TestSerial(l, wk, 0.0, what));
      PetscCall(TestExactTV(l, wk, what));
    }
    PetscCall(PdLayoutDestroy(&l));
  }
  {
    PdLayout      *l;
    ptrdiff_t      n[3] = {2, 2, 2};
    float          u[8] = {0}, g[8];
    double         bad[3] = {1, 0, 1}, v;
    PetscErrorCode e1, e2;
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, n, &l));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    e1 = PdTVGradient(l, NULL, -1.0, u, g, &v);
    e2 = PdGradient(l, bad, u, g, g, g);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(e1 == PETSC_ERR_ARG_OUTOFRANGE && e2 == PETSC_ERR_ARG_OUTOFRANGE, "negative eps / zero spacing accepted (%d, %d)", (int)e1, (int)e2);
    PetscCall(PdLayoutDestroy(&l));
  }
  return PdTestFinalize("diffops_tv");
}
