/* PSF models: normalisation, symmetry, lateral/axial widths against the closed forms.
   Option -timing times a 64x256x256 Born & Wolf PSF. */
/* ranks: 1 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* j1() */
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

/* Full width at half maximum of a profile p[0..m) peaking at index c, by linear interpolation
   of the first crossing of half the peak on each side. */
static double FWHM(const double *p, ptrdiff_t m, ptrdiff_t c)
{
  double half = 0.5 * p[c], lo = -1, hi = -1;
  for (ptrdiff_t i = c + 1; i < m; i++)
    if (p[i] < half) { hi = (double)(i - 1) + (p[i - 1] - half) / (p[i - 1] - p[i]); break; }
  for (ptrdiff_t i = c - 1; i >= 0; i--)
    if (p[i] < half) { lo = (double)(i + 1) - (p[i + 1] - half) / (p[i + 1] - p[i]); break; }
  return (lo < 0 || hi < 0) ? -1 : hi - lo;
}

static PetscErrorCode TestBornWolf(double na, double ni, double lambda)
{
  PdOptics  o = {na, ni, lambda, 20.0, 100.0};
  ptrdiff_t n[3] = {15, 81, 81}, c[3] = {7, 40, 40};
  float    *h;
  double    p[81], fwhm, expect = 0.51 * lambda / na, maxasym = 0, hmax = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n[0] * n[1] * n[2], &h));
  PetscCall(PdPSFBornWolf(&o, n, h));
  PD_EXPECT(fabs(Sum(h, n) - 1.0) < 1e-5, "Born & Wolf sum %g", Sum(h, n));
  for (ptrdiff_t i = 0; i < n[0] * n[1] * n[2]; i++) hmax = PetscMax(hmax, h[i]);
  PD_EXPECT(H(h, n, c[0], c[1], c[2]) == hmax, "peak not at the centre");
  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) {
        double v = H(h, n, z, y, x);
        double w[4] = {H(h, n, z, x, y), H(h, n, z, 2 * c[1] - y, x), H(h, n, z, y, 2 * c[2] - x), H(h, n, 2 * c[0] - z, y, x)};
        for (int i = 0; i < 4; i++) maxasym = PetscMax(maxasym, fabs(v - w[i]) / hmax);
      }
  PD_EXPECT(maxasym < 1e-5, "Born & Wolf asymmetry %g", maxasym);
  for (ptrdiff_t x = 0; x < n[2]; x++) p[x] = H(h, n, c[0], c[1], x);
  fwhm = FWHM(p, n[2], c[2]) * o.dxy;
  PD_EXPECT(fabs(fwhm - expect) < 0.1 * expect, "NA %g lambda %g: lateral FWHM %g nm, expected %g", na, lambda, fwhm, expect);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Born & Wolf NA %g ni %g lambda %g: lateral FWHM %.1f nm (0.51 lambda/NA = %.1f)\n", na, ni, lambda, fwhm, expect));
  /* In focus the model is the Airy pattern [2 J1(v) / v]^2, v = k NA r. */
  {
    double maxerr = 0;
    for (ptrdiff_t x = c[2] + 1; x < n[2]; x++) {
      double v = 2 * PETSC_PI / lambda * na * (double)(x - c[2]) * o.dxy, airy = 2 * j1(v) / v;
      maxerr = PetscMax(maxerr, fabs(H(h, n, c[0], c[1], x) / H(h, n, c[0], c[1], c[2]) - airy * airy));
    }
    PD_EXPECT(maxerr < 1e-5, "focal plane differs from the Airy pattern by %g", maxerr);
  }
  /* A PSF that peaks off-centre or is a delta would fail here, too. */
  PD_EXPECT(H(h, n, c[0], c[1], c[2] + 1) > 0.5 * H(h, n, c[0], c[1], c[2]), "lateral profile too narrow");
  PetscCall(PetscFree(h));
  PetscFunctionReturn(0);
}

/* Axial FWHM on the optical axis; the model's closed form is 1.772 ni lambda / NA^2. */
static PetscErrorCode AxialFWHM(double na, double *fwhm)
{
  PdOptics  o = {na, 1.518, 520.0, 40.0, 50.0};
  ptrdiff_t n[3] = {161, 33, 33};
  float    *h;
  double    p[161], expect = 1.772 * o.ni * o.lambda / (na * na);

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n[0] * n[1] * n[2], &h));
  PetscCall(PdPSFBornWolf(&o, n, h));
  for (ptrdiff_t z = 0; z < n[0]; z++) p[z] = H(h, n, z, 16, 16);
  *fwhm = FWHM(p, n[0], 80) * o.dz;
  PD_EXPECT(fabs(*fwhm - expect) < 0.1 * expect, "NA %g: axial FWHM %g nm, expected %g", na, *fwhm, expect);
  PetscCall(PetscFree(h));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestGaussian(void)
{
  double    sigma[3] = {300, 100, 120}, vox[3] = {100, 40, 40}, mom[3][3] = {{0}};
  ptrdiff_t n[3] = {31, 27, 33};
  float    *h;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n[0] * n[1] * n[2], &h));
  PetscCall(PdPSFGaussian(sigma, vox, n, h));
  PD_EXPECT(fabs(Sum(h, n) - 1.0) < 1e-5, "Gaussian sum %g", Sum(h, n));
  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) {
        double v = H(h, n, z, y, x), d[3] = {(double)(z - n[0] / 2), (double)(y - n[1] / 2), (double)(x - n[2] / 2)};
        for (int a = 0; a < 3; a++) {
          mom[a][0] += v;
          mom[a][1] += v * d[a];
          mom[a][2] += v * d[a] * d[a];
        }
      }
  for (int a = 0; a < 3; a++) {
    double mean = mom[a][1] / mom[a][0], s = sqrt(mom[a][2] / mom[a][0] - mean * mean) * vox[a];
    PD_EXPECT(fabs(mean) < 1e-6, "Gaussian axis %d centred at %g", a, mean);
    PD_EXPECT(fabs(s - sigma[a]) < 1e-3 * sigma[a], "Gaussian axis %d sigma %g nm, expected %g", a, s, sigma[a]);
  }
  PetscCall(PetscFree(h));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  double    f14, f10, f07;
  PdOptics  o = {1.4, 1.518, 520, 65, 200};
  ptrdiff_t n[3];
  PetscBool timing = PETSC_FALSE;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(TestBornWolf(1.4, 1.518, 520));
  PetscCall(TestBornWolf(0.8, 1.0, 600));
  PetscCall(AxialFWHM(1.4, &f14));
  PetscCall(AxialFWHM(1.0, &f10));
  PetscCall(AxialFWHM(0.7, &f07));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "axial FWHM NA 1.4 / 1.0 / 0.7: %.0f / %.0f / %.0f nm\n", f14, f10, f07));
  PD_EXPECT(f14 < f10 && f10 < f07, "axial extent does not grow as NA falls");
  PetscCall(TestGaussian());
  PetscCall(PdPSFDefaultSize(&o, n));
  PD_EXPECT(n[0] % 2 && n[1] % 2 && n[2] % 2 && n[0] >= 9 && n[1] >= 33 && n[1] == n[2] && n[1] <= 257 && n[0] <= 129,
            "default size %td %td %td", n[0], n[1], n[2]);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "default size for NA 1.4, 65/200 nm: %td x %td x %td\n", n[0], n[1], n[2]));
  {
    PdOptics bad = {1.6, 1.518, 520, 65, 200};
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    PD_EXPECT(PdPSFDefaultSize(&bad, n) == PETSC_ERR_ARG_OUTOFRANGE, "NA > ni accepted");
    PetscCall(PetscPopErrorHandler());
  }
  PetscCall(PetscOptionsHasName(NULL, NULL, "-timing", &timing));
  if (timing) {
    ptrdiff_t m[3] = {64, 256, 256};
    float    *h;
    double    t;
    PetscCall(PetscMalloc1(m[0] * m[1] * m[2], &h));
    t = PdTime();
    PetscCall(PdPSFBornWolf(&o, m, h));
    t = PdTime() - t;
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Born & Wolf 64x256x256 (65/200 nm): %.3f s\n", t));
    PetscCall(PetscFree(h));
  }
  return PdTestFinalize("psf");
}
