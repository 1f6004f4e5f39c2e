/* Point spread function models: the Born & Wolf scalar widefield PSF and a separable Gaussian.

   Every model fills a compact z,y,x array of size n (x fastest) whose centre voxel is
   (n[0]/2, n[1]/2, n[2]/2) (integer division) and whose values sum to 1. Lengths are in nm. */
#ifndef PDECON_PSF_H
#define PDECON_PSF_H

#include <pdecon/core/sys.h>

typedef struct {
  double na;     /* numerical aperture */
  double ni;     /* refractive index of the immersion medium (na <= ni) */
  double lambda; /* emission wavelength in vacuum, nm */
  double dxy;    /* lateral voxel size, nm */
  double dz;     /* axial voxel size, nm */
} PdOptics;

/* Born & Wolf scalar PSF (in-focus, aberration-free widefield microscope), point-sampled at the
   voxel centres; see psf_bornwolf.c for the equation. */
PetscErrorCode PdPSFBornWolf(const PdOptics *o, const ptrdiff_t n[3], float *h);

/* Gibson & Lanni (1991) scalar widefield PSF of an objective used away from its design conditions:
   immersion index ni (base.ni) instead of ni0, coverslip index / thickness ng, tg instead of ng0,
   tg0, and a point source at depth zp below the coverslip in a sample of index ns. Lengths in nm.
   Plane offset z = (plane - n[0]/2) dz is the nominal focal depth minus zp: z > 0 focuses deeper
   into the sample (away from the objective). With ns = ni = ni0, ng = ng0, tg = tg0 it is the Born &
   Wolf PSF with the exact (non-paraxial) defocus phase; see psf_gibsonlanni.c for the equations. */
typedef struct {
  PdOptics base;     /* na, ni (immersion index, actual), lambda, dxy, dz */
  double   ni0;      /* design immersion index */
  double   ns;       /* sample refractive index */
  double   ng, ng0;  /* coverslip index: actual, design */
  double   tg, tg0;  /* coverslip thickness: actual, design (nm) */
  double   ti0;      /* working distance / immersion thickness, design (nm) */
  double   zp;       /* particle depth below the coverslip (nm, >= 0) */
} PdGibsonLanni;

/* Oil objective defaults: NA 1.4, ni = ni0 = ng = ng0 = 1.518, ns = 1.33, tg = tg0 = 170 um,
   ti0 = 150 um, zp = 0, lambda 520 nm, voxels 65 x 65 x 200 nm. */
PetscErrorCode PdGibsonLanniDefault(PdGibsonLanni *g);
/* Same conventions as PdPSFBornWolf (compact z,y,x, centred at n/2, sum 1). */
PetscErrorCode PdPSFGibsonLanni(const PdGibsonLanni *g, const ptrdiff_t n[3], float *h);

/* Separable Gaussian exp(-d^2 / (2 sigma^2)) per axis, point-sampled at the voxel centres.
   sigma_nm and voxel_nm are z, y, x. */
PetscErrorCode PdPSFGaussian(const double sigma_nm[3], const double voxel_nm[3], const ptrdiff_t n[3], float *h);

/* An odd size (z, y, x) that holds the Born & Wolf PSF out to where it is small: three axial
   FWHMs either side of focus, and laterally the defocus cone at that depth plus four Airy radii.
   Bounded by 129 planes and 257 x 257 voxels. */
PetscErrorCode PdPSFDefaultSize(const PdOptics *o, ptrdiff_t n[3]);

#endif
