/* Point spread function models: the Born & Wolf scalar widefield PSF and a separable Gaussian.

   Every model fills a compact z,y,x array of size n (x fastest) whose centre voxel is
   (n[0]/2, n[1]/2, n[2]/2) (integer division) and whose values sum to 1. Lengths are in nm. */
#ifndef PDECON_PSF_H
#define PDECON_PSF_H

#include <pdecon/sys.h>

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

/* Separable Gaussian exp(-d^2 / (2 sigma^2)) per axis, point-sampled at the voxel centres.
   sigma_nm and voxel_nm are z, y, x. */
PetscErrorCode PdPSFGaussian(const double sigma_nm[3], const double voxel_nm[3], const ptrdiff_t n[3], float *h);

/* An odd size (z, y, x) that holds the Born & Wolf PSF out to where it is small: three axial
   FWHMs either side of focus, and laterally the defocus cone at that depth plus four Airy radii.
   Bounded by 129 planes and 257 x 257 voxels. */
PetscErrorCode PdPSFDefaultSize(const PdOptics *o, ptrdiff_t n[3]);

#endif
