/* Born & Wolf scalar PSF of a widefield microscope.

   With k = 2 pi / lambda (vacuum wavelength), lateral distance r and defocus z from the focal point,

     h(r, z) = | C  int_0^1  J0(k NA r rho) exp(-1/2 j k rho^2 z NA^2 / ni)  rho d rho |^2

   (Born & Wolf, Principles of Optics, 8.8; the form used by Gibson & Lanni 1991 and the EPFL
   PSF Generator). In focus this is the Airy pattern [2 J1(v) / v]^2, v = k NA r, whose FWHM is
   0.51 lambda / NA. h(r, -z) = h(r, z), because the integral at -z is the complex conjugate.

   Evaluation: J0(k NA r rho) does not depend on z, so for each radius of a fine radial grid one row
   of J0 values over the rho quadrature nodes is computed once and dotted with the precomputed
   weight * rho * cos / sin (phase) rows of every distinct |z|. The voxels are then point-sampled by
   linear interpolation of that radial profile (grid step <= dxy / 8 and <= lambda / (50 NA), so the
   interpolation error is far below the float precision that matters). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* j0() is XSI, not C11 */
#endif
#include "psf/psf_impl.h"
#include <math.h>

static PetscErrorCode CheckOptics(const PdOptics *o)
{
  PetscFunctionBegin;
  PetscCheck(o->na > 0 && o->ni > 0 && o->na <= o->ni, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "PSF needs 0 < NA <= immersion index (got NA %.6g, n %.6g)", o->na, o->ni);
  PetscCheck(o->lambda > 0 && o->dxy > 0 && o->dz > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "PSF needs positive wavelength and voxel sizes (got %.6g, %.6g, %.6g nm)", o->lambda, o->dxy, o->dz);
  PetscFunctionReturn(0);
}

PetscErrorCode PdPSFBornWolf(const PdOptics *o, const ptrdiff_t n[3], float *h)
{
  const double k = 2.0 * PETSC_PI / o->lambda;
  ptrdiff_t    c[3], nzu, nr, nq;
  double       rmax, dr, zmax, cycles, a, *wc, *ws, *row, *prof;

  PetscFunctionBegin;
  PetscCall(CheckOptics(o));
  for (int d = 0; d < 3; d++) {
    PetscCheck(n[d] >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PSF size must be positive");
    c[d] = n[d] / 2;
  }
  /* Distinct |z| offsets (the profile is symmetric about focus) and the largest radius needed. */
  nzu  = PetscMax(c[0], n[0] - 1 - c[0]) + 1;
  zmax = (double)(nzu - 1) * o->dz;
  {
    double my = (double)PetscMax(c[1], n[1] - 1 - c[1]), mx = (double)PetscMax(c[2], n[2] - 1 - c[2]);
    rmax = o->dxy * sqrt(my * my + mx * mx);
  }
  dr = PetscMin(o->dxy / 8.0, o->lambda / (50.0 * o->na));
  nr = (ptrdiff_t)ceil(rmax / dr) + 2;

  /* Composite Simpson over rho in [0, 1] with >= 32 nodes per oscillation of the integrand: J0 goes
     through a / (2 pi) cycles, the defocus phase phi rho^2 through phi / pi. */
  a      = k * o->na * rmax;
  cycles = a / (2.0 * PETSC_PI) + 0.5 * k * zmax * o->na * o->na / o->ni / PETSC_PI;
  nq     = 2 * (ptrdiff_t)ceil((32.0 * cycles + 64.0) / 2.0); /* intervals, even */
  PetscCall(PetscMalloc4(nzu * (nq + 1), &wc, nzu * (nq + 1), &ws, nq + 1, &row, nzu * nr, &prof));
  for (ptrdiff_t iz = 0; iz < nzu; iz++) {
    const double phi = 0.5 * k * (double)iz * o->dz * o->na * o->na / o->ni;
    for (ptrdiff_t q = 0; q <= nq; q++) {
      double rho = (double)q / (double)nq;
      double w   = (q == 0 || q == nq) ? 1.0 : (q % 2 ? 4.0 : 2.0);
      w *= rho / (3.0 * (double)nq);
      wc[iz * (nq + 1) + q] = w * cos(phi * rho * rho);
      ws[iz * (nq + 1) + q] = -w * sin(phi * rho * rho);
    }
  }
  for (ptrdiff_t ir = 0; ir < nr; ir++) {
    const double v = k * o->na * (double)ir * dr;
    for (ptrdiff_t q = 0; q <= nq; q++) row[q] = j0(v * (double)q / (double)nq);
    for (ptrdiff_t iz = 0; iz < nzu; iz++) {
      const double *pc = wc + iz * (nq + 1), *pst = ws + iz * (nq + 1);
      double        re = 0, im = 0;
      for (ptrdiff_t q = 0; q <= nq; q++) {
        re += row[q] * pc[q];
        im += row[q] * pst[q];
      }
      prof[iz * nr + ir] = re * re + im * im;
    }
  }

  PetscCall(PdPSFSampleRadial(prof, nr, dr, o->dxy, PETSC_TRUE, n, "Born & Wolf", h));
  PetscCall(PetscFree4(wc, ws, row, prof));
  PetscFunctionReturn(0);
}

PetscErrorCode PdPSFDefaultSize(const PdOptics *o, ptrdiff_t n[3])
{
  double s, cone, airy, zfwhm, hz, hxy;

  PetscFunctionBegin;
  PetscCall(CheckOptics(o));
  /* On the axis the model gives h(0, z) ~ sinc^2(phi / 2), phi = k z NA^2 / (2 ni): axial FWHM
     1.772 ni lambda / NA^2. */
  zfwhm = 1.772 * o->ni * o->lambda / (o->na * o->na);
  airy  = 0.61 * o->lambda / o->na;
  hz    = 3.0 * zfwhm;
  /* Out of focus the light fills the geometric cone of half-angle asin(NA / ni). */
  s    = o->na / o->ni;
  cone = s < 0.95 ? s / sqrt(1.0 - s * s) : 3.0;
  hxy  = hz * cone + 4.0 * airy;
  n[0] = 2 * (ptrdiff_t)PetscMin(64.0, PetscMax(1.0, ceil(hz / o->dz))) + 1;
  n[1] = n[2] = 2 * (ptrdiff_t)PetscMin(128.0, PetscMax(3.0, ceil(hxy / o->dxy))) + 1;
  PetscFunctionReturn(0);
}
