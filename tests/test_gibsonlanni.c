/* Gibson & Lanni PSF: reduction to Born & Wolf without mismatch, agreement with a direct
   (independent, brute-force) evaluation of the textbook OPD integral, and the effects of a
   refractive-index mismatch (oil objective into water at 5 um depth). */
/* ranks: 1 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* j0() */
#endif
#include "testutil.h"
#include <pdecon/psf/psf.h>
#include <math.h>

#define H(h, n, z, y, x) (h)[(((z) * (n)[1]) + (y)) * (n)[2] + (x)]

static double Sum(const float *h, const ptrdiff_t n[3])
{
  double s = 0;
  for (ptrdiff_t i = 0; i < n[0] * n[1] * n[2]; i++) s += h[i];
  return s;
}

static PdGibsonLanni Matched(double na, double ni, double lambda, double dxy, double dz)
{
  PdGibsonLanni g;
  PdGibsonLanniDefault(&g);
  g.base.na = na;
  g.base.ni = g.ni0 = g.ns = ni;
  g.base.lambda = lambda;
  g.base.dxy    = dxy;
  g.base.dz     = dz;
  return g;
}

/* ||h_GL - h_BW|| / ||h_BW|| for a matched system. */
static PetscErrorCode CompareBW(const PdGibsonLanni *g, const ptrdiff_t n[3], double *rel)
{
  float *a, *b;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(n[0] * n[1] * n[2], &a, n[0] * n[1] * n[2], &b));
  PetscCall(PdPSFGibsonLanni(g, n, a));
  PetscCall(PdPSFBornWolf(&g->base, n, b));
  *rel = PdTestRelDiff(a, b, (size_t)(n[0] * n[1] * n[2]));
  PD_EXPECT(fabs(Sum(a, n) - 1.0) < 1e-5, "Gibson-Lanni sum %g", Sum(a, n));
  PetscCall(PetscFree2(a, b));
  PetscFunctionReturn(0);
}

/* Brute-force reference: the textbook OPD (no rearrangement) with the stage coordinate
   ti = ti0 - zp - z, integrated over rho in [0, rhomax] by the midpoint rule with m nodes, at radius r
   for planes z = (iz - c) dz. prof[iz] = |.|^2. */
static PetscErrorCode Reference(const PdGibsonLanni *g, double r, ptrdiff_t nz, ptrdiff_t c, int m, double *prof)
{
  const double na = g->base.na, k = 2 * PETSC_PI / g->base.lambda;
  const double idx[5] = {g->ns, g->base.ni, g->ni0, g->ng, g->ng0};
  double       smax = na, rhomax, *jr, *opd0, *sqi;

  PetscFunctionBegin;
  for (int i = 0; i < 5; i++) smax = PetscMin(smax, idx[i]);
  rhomax = smax / na;
  PetscCall(PetscMalloc3(m, &jr, m, &opd0, m, &sqi));
  /* OPD = opd0 - z sqi: opd0 is the OPD at z = 0, ti = ti0 - zp. */
  for (int q = 0; q < m; q++) {
    double rho = rhomax * (q + 0.5) / m, s2 = na * na * rho * rho;
    sqi[q]  = sqrt(g->base.ni * g->base.ni - s2);
    opd0[q] = g->zp * sqrt(g->ns * g->ns - s2) + (g->ti0 - g->zp) * sqi[q] - g->ti0 * sqrt(g->ni0 * g->ni0 - s2) +
              g->tg * sqrt(g->ng * g->ng - s2) - g->tg0 * sqrt(g->ng0 * g->ng0 - s2);
    jr[q] = j0(k * na * r * rho) * rho;
  }
  for (ptrdiff_t iz = 0; iz < nz; iz++) {
    double z = (double)(iz - c) * g->base.dz, re = 0, im = 0;
    for (int q = 0; q < m; q++) {
      double ph = k * (opd0[q] - z * sqi[q]);
      re += jr[q] * cos(ph);
      im += jr[q] * sin(ph);
    }
    prof[iz] = re * re + im * im;
  }
  PetscCall(PetscFree3(jr, opd0, sqi));
  PetscFunctionReturn(0);
}

/* Largest difference, relative to the peak, between the PSF's on-axis profile and profiles at
   x offsets dxs (on the grid nodes of the radial profile: dxy / 8 < lambda / (50 NA)) and the
   reference, both scaled by their on-axis peak. */
static PetscErrorCode CompareReference(const PdGibsonLanni *g, const ptrdiff_t n[3], const float *h, double *err)
{
  const int dxs[3] = {0, 3, 7};
  double   *ref, *ref0, pk = 0, pkr = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(n[0], &ref, n[0], &ref0));
  *err = 0;
  for (int i = 0; i < 3; i++) {
    PetscCall(Reference(g, dxs[i] * g->base.dxy, n[0], n[0] / 2, 100000, i ? ref : ref0));
    if (i == 0)
      for (ptrdiff_t z = 0; z < n[0]; z++) {
        pk  = PetscMax(pk, H(h, n, z, n[1] / 2, n[2] / 2));
        pkr = PetscMax(pkr, ref0[z]);
      }
    for (ptrdiff_t z = 0; z < n[0]; z++) {
      double a = H(h, n, z, n[1] / 2, n[2] / 2 + dxs[i]) / pk, b = (i ? ref[z] : ref0[z]) / pkr;
      *err = PetscMax(*err, fabs(a - b));
    }
  }
  PetscCall(PetscFree2(ref, ref0));
  PetscFunctionReturn(0);
}

/* On-axis profile: index of its maximum and its asymmetry about the peak,
   max_d |p(pk + d) - p(pk - d)| / p(pk). */
static void Axial(const float *h, const ptrdiff_t n[3], ptrdiff_t *ipk, double *asym)
{
  ptrdiff_t pk = 0;
  double    a  = 0;
  for (ptrdiff_t z = 1; z < n[0]; z++)
    if (H(h, n, z, n[1] / 2, n[2] / 2) > H(h, n, pk, n[1] / 2, n[2] / 2)) pk = z;
  for (ptrdiff_t d = 1; pk - d >= 0 && pk + d < n[0]; d++)
    a = PetscMax(a, fabs(H(h, n, pk + d, n[1] / 2, n[2] / 2) - H(h, n, pk - d, n[1] / 2, n[2] / 2)) / H(h, n, pk, n[1] / 2, n[2] / 2));
  *ipk  = pk;
  *asym = a;
}

int main(int argc, char **argv)
{
  PetscCall(PdTestInitialize(&argc, &argv));

  /* 1. No mismatch, low NA: the paraxial Born & Wolf phase is accurate to < 1e-3 there. Then the
        same comparison on boxes scaled with the PSF (voxels 0.1 lambda / NA by 0.1 ni lambda / NA^2,
        41^3: +-1.1 axial FWHM, +-2 lambda / NA): the difference is the paraxial error of Born &
        Wolf, growing as (NA / ni)^2, so it must rise with NA. */
  {
    PdGibsonLanni g1 = Matched(0.06, 1.0, 520, 600, 12000), g2 = Matched(0.09, 1.518, 600, 400, 10000);
    ptrdiff_t     n1[3] = {41, 65, 65}, n2[3] = {33, 49, 49}, n[3] = {41, 41, 41};
    const double  nas[6] = {0.05, 0.1, 0.2, 0.4, 0.6, 0.9};
    double        r1, r2, r[6];
    PetscCall(CompareBW(&g1, n1, &r1));
    PetscCall(CompareBW(&g2, n2, &r2));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "no mismatch, ||GL - BW|| / ||BW||: NA 0.06 air %.2e, NA 0.09 oil %.2e\n", r1, r2));
    PD_EXPECT(r1 < 1e-3 && r2 < 1e-3, "Gibson-Lanni without mismatch differs from Born & Wolf: %g, %g", r1, r2);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "no mismatch, scaled boxes, NA (air):"));
    for (int i = 0; i < 6; i++) {
      PdGibsonLanni g = Matched(nas[i], 1.0, 520, 0.1 * 520 / nas[i], 0.1 * 520 / (nas[i] * nas[i]));
      PetscCall(CompareBW(&g, n, &r[i]));
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, " %g: %.1e%s", nas[i], r[i], i < 5 ? "," : "\n"));
      if (i) PD_EXPECT(r[i] > r[i - 1], "GL - BW difference does not grow with NA (%g at NA %g)", r[i], nas[i]);
    }
  }
  /* 2. No mismatch, high NA: Gibson-Lanni is the exact-defocus form, which the paraxial Born & Wolf
        phase is not; report the difference and check against the direct exact-defocus integral. */
  {
    PdGibsonLanni g = Matched(1.4, 1.518, 520, 40, 100), g8 = Matched(0.8, 1.0, 600, 40, 100);
    ptrdiff_t     n[3] = {41, 41, 41};
    float        *h;
    double        r14, r08, err;
    PetscCall(CompareBW(&g, n, &r14));
    PetscCall(CompareBW(&g8, n, &r08));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "no mismatch, ||GL - BW|| / ||BW|| (non-paraxial defocus): NA 1.4 oil %.3f, NA 0.8 air %.3f\n", r14, r08));
    PetscCall(PetscMalloc1(n[0] * n[1] * n[2], &h));
    PetscCall(PdPSFGibsonLanni(&g, n, h));
    PetscCall(CompareReference(&g, n, h, &err));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "no mismatch NA 1.4: max |GL - exact-defocus integral| / peak %.2e\n", err));
    PD_EXPECT(err < 1e-5, "NA 1.4 no mismatch differs from the exact-defocus integral by %g", err);
    PetscCall(PetscFree(h));
  }
  /* 3. Oil objective (NA 1.4, n 1.518) imaging 5 um deep into water: focal shift deeper, asymmetric
        axial profile, lower peak, still normalised, and agreement with the direct OPD integral. */
  {
    PdGibsonLanni g, gm;
    ptrdiff_t     n[3] = {81, 45, 45}, pk, pkm;
    float        *h, *hm;
    double        asym, asymm, err, hmax = 0, hmaxm = 0;
    PetscCall(PdGibsonLanniDefault(&g));
    g.base.dxy = 40;
    g.base.dz  = 100;
    g.zp       = 5000;
    gm         = g;
    gm.ns      = gm.base.ni;
    PetscCall(PetscMalloc2(n[0] * n[1] * n[2], &h, n[0] * n[1] * n[2], &hm));
    PetscCall(PdPSFGibsonLanni(&g, n, h));
    PetscCall(PdPSFGibsonLanni(&gm, n, hm));
    PD_EXPECT(fabs(Sum(h, n) - 1.0) < 1e-5, "mismatched PSF sum %g", Sum(h, n));
    Axial(h, n, &pk, &asym);
    Axial(hm, n, &pkm, &asymm);
    for (ptrdiff_t i = 0; i < n[0] * n[1] * n[2]; i++) {
      hmax  = PetscMax(hmax, h[i]);
      hmaxm = PetscMax(hmaxm, hm[i]);
    }
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ns 1.33, zp 5 um: axial peak at %+.0f nm (paraxial focal shift %+.0f nm), asymmetry %.3f; matched: peak %+.0f nm, asymmetry %.1e; peak ratio %.3f\n",
                          (double)(pk - n[0] / 2) * g.base.dz, g.zp * (g.base.ni / g.ns - 1), asym, (double)(pkm - n[0] / 2) * g.base.dz, asymm, hmax / hmaxm));
    PD_EXPECT(pkm == n[0] / 2 && asymm < 1e-5, "matched PSF not centred / symmetric (peak %td, asymmetry %g)", pkm, asymm);
    PD_EXPECT(pk >= n[0] / 2 + 3 && pk <= n[0] - 10, "mismatched axial peak at plane %td, expected a few planes deeper than %td", pk, n[0] / 2);
    PD_EXPECT(asym > 0.1, "mismatched axial profile nearly symmetric (%g)", asym);
    PD_EXPECT(hmax < 0.9 * hmaxm, "mismatch did not lower the peak (%g vs %g)", hmax, hmaxm);
    PetscCall(CompareReference(&g, n, h, &err));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ns 1.33, zp 5 um: max |GL - direct OPD integral| / peak %.2e\n", err));
    PD_EXPECT(err < 1e-4, "mismatched PSF differs from the direct OPD integral by %g", err);
    PetscCall(PetscFree2(h, hm));
  }
  /* 4. Coverslip and immersion mismatch only (no sample): still a valid, normalised PSF that
        differs from the matched one; bad parameters are rejected. */
  {
    PdGibsonLanni g;
    ptrdiff_t     n[3] = {21, 21, 21};
    float         h[21 * 21 * 21];
    double        err;
    PetscCall(PdGibsonLanniDefault(&g));
    g.ns      = g.base.ni;
    g.tg      = 190e3;
    g.base.ni = 1.515;
    g.base.dxy = 50;
    g.base.dz  = 150;
    PetscCall(PdPSFGibsonLanni(&g, n, h));
    PD_EXPECT(fabs(Sum(h, n) - 1.0) < 1e-5, "coverslip-mismatch PSF sum %g", Sum(h, n));
    PetscCall(CompareReference(&g, n, h, &err));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "tg 190 um, ni 1.515: max |GL - direct OPD integral| / peak %.2e\n", err));
    PD_EXPECT(err < 1e-4, "coverslip-mismatch PSF differs from the direct OPD integral by %g", err);
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    g.base.na = 1.6;
    PD_EXPECT(PdPSFGibsonLanni(&g, n, h) == PETSC_ERR_ARG_OUTOFRANGE, "NA > ni0 accepted");
    g.base.na = 1.4;
    g.zp      = -1;
    PD_EXPECT(PdPSFGibsonLanni(&g, n, h) == PETSC_ERR_ARG_OUTOFRANGE, "negative depth accepted");
    PetscCall(PetscPopErrorHandler());
  }
  return PdTestFinalize("gibsonlanni");
}
