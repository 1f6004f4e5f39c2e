/* Gibson & Lanni scalar PSF: a widefield microscope whose immersion medium, coverslip or sample
   differ from the objective's design (S. F. Gibson, F. Lanni, JOSA A 8:1601, 1991; the form of
   J. Li, F. Xue, T. Blu, JOSA A 34:1029, 2017, and of the EPFL PSF Generator).

   With k = 2 pi / lambda, s = NA rho (rho: normalised pupil radius) and the stage coordinate
   ti = ti0 - zp - z (immersion thickness; z = nominal focal depth - zp, the plane offset),

     OPD(rho, z) = zp sqrt(ns^2 - s^2) + ti sqrt(ni^2 - s^2) - ti0 sqrt(ni0^2 - s^2)
                 + tg sqrt(ng^2 - s^2) - tg0 sqrt(ng0^2 - s^2)

     h(r, z) = | int_0^rhomax J0(k NA r rho) exp(j k OPD(rho, z)) rho d rho |^2,

   rhomax = min(NA, ns, ni, ni0, ng, ng0) / NA: rays steeper than any layer's index allows are
   evanescent (supercritical) and carry no far-field light. The z = 0 plane is where a matched
   system would focus on the source; with ns < ni the intensity peak lies deeper (focal shift,
   paraxially z = zp (ni / ns - 1)) and the axial profile is asymmetric (spherical aberration).

   No mismatch (ns = ni = ni0, ng = ng0, tg = tg0) leaves OPD = -z sqrt(ni^2 - s^2): the Born & Wolf
   integral of psf_bornwolf.c with the exact defocus phase instead of its paraxial expansion
   -z (ni - s^2 / (2 ni)) (the conjugate phase gives the same |.|^2). The two agree where the next
   term of the expansion, k z s^4 / (8 ni^3), is small over the PSF, i.e. at low NA / ni; at NA 1.4
   in oil they differ by tens of percent (see tests/test_gibsonlanni.c).

   Numerics. Constant (rho-independent) phases do not change |.|^2, so the phase is taken relative
   to rho = 0 and every term is written with R(m) = sqrt(m^2 - s^2) - m = -s^2 / (sqrt(m^2 - s^2) + m),
     k [OPD(rho) - OPD(0)] = k [ zp (R(ns) - R(ni)) - z R(ni) + ti0 (R(ni) - R(ni0))
                                + (tg - tg0) R(ng) + tg0 (R(ng) - R(ng0)) ],
   which keeps the 150 um design terms from cancelling catastrophically (a matched layer gives an
   exact 0). The pupil integral substitutes rho = rhomax sin t, t in [0, pi/2]: the sqrt(m^2 - s^2)
   whose index limits the aperture becomes m cos t, so the integrand stays smooth even when the
   aperture is clipped by ns (otherwise Simpson's rule would converge only as h^1.5 at that edge).
   The node count follows the largest local frequency of J0 and of the phase (>= 32 nodes per
   cycle, as in psf_bornwolf.c); the radial profile of each plane is computed on the same fine grid
   and the voxels are point-sampled by linear interpolation, exactly as in psf_bornwolf.c. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* j0() is XSI, not C11 */
#endif
#include "psf/psf_impl.h"
#include <math.h>

PetscErrorCode PdGibsonLanniDefault(PdGibsonLanni *g)
{
  PetscFunctionBegin;
  g->base.na     = 1.4;
  g->base.ni     = 1.518;
  g->base.lambda = 520.0;
  g->base.dxy    = 65.0;
  g->base.dz     = 200.0;
  g->ni0         = 1.518;
  g->ns          = 1.33;
  g->ng = g->ng0 = 1.518;
  g->tg = g->tg0 = 170e3;
  g->ti0         = 150e3;
  g->zp          = 0.0;
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckGL(const PdGibsonLanni *g)
{
  const PdOptics *o = &g->base;

  PetscFunctionBegin;
  PetscCheck(o->na > 0 && g->ni0 > 0 && o->na <= g->ni0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Gibson-Lanni PSF needs 0 < NA <= design immersion index (got NA %.6g, ni0 %.6g)", o->na, g->ni0);
  PetscCheck(o->ni > 0 && g->ns > 0 && g->ng > 0 && g->ng0 > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Gibson-Lanni PSF needs positive refractive indices (got ni %.6g, ns %.6g, ng %.6g, ng0 %.6g)", o->ni, g->ns, g->ng, g->ng0);
  PetscCheck(g->tg >= 0 && g->tg0 >= 0 && g->ti0 >= 0 && g->zp >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Gibson-Lanni PSF needs non-negative thicknesses and depth (got tg %.6g, tg0 %.6g, ti0 %.6g, zp %.6g nm)", g->tg, g->tg0, g->ti0, g->zp);
  PetscCheck(o->lambda > 0 && o->dxy > 0 && o->dz > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "PSF needs positive wavelength and voxel sizes (got %.6g, %.6g, %.6g nm)", o->lambda, o->dxy, o->dz);
  PetscFunctionReturn(0);
}

/* Pupil quantities at s = smax sin t for one layer index m >= smax. m^2 - s^2 is formed as
   (m^2 - smax^2) + smax^2 cos^2 t so that the limiting layer gives exactly smax cos t. */
typedef struct {
  double s, cost; /* s and cos t */
  double smax;
} Pupil;

static double SqrtLayer(const Pupil *p, double m) { return sqrt(PetscMax(0.0, (m * m - p->smax * p->smax) + p->smax * p->smax * p->cost * p->cost)); }
/* R(m) = sqrt(m^2 - s^2) - m without cancellation. */
static double R(const Pupil *p, double m) { return -p->s * p->s / (SqrtLayer(p, m) + m); }
/* dR(m)/dt = -s F(m), F(m) = smax cos t / sqrt(m^2 - s^2) (<= 1; 1 for the limiting layer). */
static double F(const Pupil *p, double m)
{
  double q = SqrtLayer(p, m);
  return q > 0 ? p->smax * p->cost / q : 1.0;
}

/* k [OPD(rho) - OPD(0)] split as A + z B (B = -k R(ni)), and its t-derivative dA + z dB. */
static void Phase(const PdGibsonLanni *g, double k, const Pupil *p, double *A, double *B, double *dA, double *dB)
{
  const double ni = g->base.ni;
  *A  = k * (g->zp * (R(p, g->ns) - R(p, ni)) + g->ti0 * (R(p, ni) - R(p, g->ni0)) + (g->tg - g->tg0) * R(p, g->ng) + g->tg0 * (R(p, g->ng) - R(p, g->ng0)));
  *B  = -k * R(p, ni);
  *dA = -k * p->s * (g->zp * (F(p, g->ns) - F(p, ni)) + g->ti0 * (F(p, ni) - F(p, g->ni0)) + (g->tg - g->tg0) * F(p, g->ng) + g->tg0 * (F(p, g->ng) - F(p, g->ng0)));
  *dB = k * p->s * F(p, ni);
}

PetscErrorCode PdPSFGibsonLanni(const PdGibsonLanni *g, const ptrdiff_t n[3], float *h)
{
  const PdOptics *o = &g->base;
  const double    k = 2.0 * PETSC_PI / o->lambda, half_pi = 0.5 * PETSC_PI;
  ptrdiff_t       c[3], nr, nq;
  double          rmax, dr, smax, rhomax, fmax = 0, cycles, *wc, *ws, *row, *prof, *rho;

  PetscFunctionBegin;
  PetscCall(CheckGL(g));
  for (int d = 0; d < 3; d++) {
    PetscCheck(n[d] >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PSF size must be positive");
    c[d] = n[d] / 2;
  }
  {
    double my = (double)PetscMax(c[1], n[1] - 1 - c[1]), mx = (double)PetscMax(c[2], n[2] - 1 - c[2]);
    rmax = o->dxy * sqrt(my * my + mx * mx);
  }
  dr     = PetscMin(o->dxy / 8.0, o->lambda / (50.0 * o->na));
  nr     = (ptrdiff_t)ceil(rmax / dr) + 2;
  smax   = PetscMin(PetscMin(PetscMin(o->na, g->ns), PetscMin(o->ni, g->ni0)), PetscMin(g->ng, g->ng0));
  rhomax = smax / o->na;

  /* Largest local frequency in t of the phase over all planes, sampled at 1024 midpoints (the
     derivative is smooth in t). J0(k NA r rhomax sin t) has frequency <= k NA rmax rhomax. Nodes:
     >= 32 per cycle of the sum over the length pi/2 of the t interval. */
  for (int i = 0; i < 1024; i++) {
    double t = half_pi * (i + 0.5) / 1024.0, A, B, dA, dB;
    Pupil  p;
    p.smax = smax;
    p.cost = cos(t);
    p.s    = smax * sin(t);
    Phase(g, k, &p, &A, &B, &dA, &dB);
    for (ptrdiff_t z = 0; z < n[0]; z += PetscMax(1, n[0] - 1)) {
      /* |dA + z dB| is largest at an end plane (linear in z). */
      double zz = (double)(z - c[0]) * o->dz;
      fmax      = PetscMax(fmax, fabs(dA + zz * dB));
    }
  }
  cycles = (fmax + k * o->na * rmax * rhomax) / (2.0 * PETSC_PI) * half_pi;
  nq     = 2 * (ptrdiff_t)ceil((32.0 * cycles + 64.0) / 2.0); /* intervals, even */

  /* Simpson weights w_q (pi/2) / (3 nq) times the Jacobian rho drho/dt = rhomax^2 sin t cos t,
     times cos / sin of the phase per plane. */
  PetscCall(PetscMalloc5(n[0] * (nq + 1), &wc, n[0] * (nq + 1), &ws, nq + 1, &row, n[0] * nr, &prof, nq + 1, &rho));
  for (ptrdiff_t q = 0; q <= nq; q++) {
    double t = half_pi * (double)q / (double)nq, A, B, dA, dB, w;
    Pupil  p;
    p.smax = smax;
    p.cost = q == nq ? 0.0 : cos(t);
    p.s    = smax * (q == nq ? 1.0 : sin(t));
    rho[q] = p.s / o->na;
    Phase(g, k, &p, &A, &B, &dA, &dB);
    w = (q == 0 || q == nq) ? 1.0 : (q % 2 ? 4.0 : 2.0);
    w *= half_pi / (3.0 * (double)nq) * rhomax * rho[q] * p.cost;
    for (ptrdiff_t z = 0; z < n[0]; z++) {
      const double phi = A + (double)(z - c[0]) * o->dz * B;
      wc[z * (nq + 1) + q] = w * cos(phi);
      ws[z * (nq + 1) + q] = w * sin(phi);
    }
  }
  for (ptrdiff_t ir = 0; ir < nr; ir++) {
    const double v = k * o->na * (double)ir * dr;
    for (ptrdiff_t q = 0; q <= nq; q++) row[q] = j0(v * rho[q]);
    for (ptrdiff_t z = 0; z < n[0]; z++) {
      const double *pc = wc + z * (nq + 1), *pst = ws + z * (nq + 1);
      double        re = 0, im = 0;
      for (ptrdiff_t q = 0; q <= nq; q++) {
        re += row[q] * pc[q];
        im += row[q] * pst[q];
      }
      prof[z * nr + ir] = re * re + im * im;
    }
  }

  PetscCall(PdPSFSampleRadial(prof, nr, dr, o->dxy, PETSC_FALSE, n, "Gibson-Lanni", h));
  PetscCall(PetscFree5(wc, ws, row, prof, rho));
  PetscFunctionReturn(0);
}
