/* Private helpers shared by the radially symmetric PSF models (Born & Wolf, Gibson-Lanni). */
#ifndef PDECON_PSF_IMPL_H
#define PDECON_PSF_IMPL_H

#include <pdecon/psf/psf.h>

/* Fills the compact z,y,x array h (size n, centre n/2) by point-sampling radial intensity
   profiles: prof holds nr samples per profile at radius spacing dr (nm); voxel (z, y, x) takes
   profile |z - c0| (symmetric_z: one profile per distance from focus) or profile z, linearly
   interpolated at r = dxy sqrt(dy² + dx²) from integer offsets (so h is exactly symmetric under
   x <-> y and mirroring), then normalises h to sum 1. name is used in the error message. */
PetscErrorCode PdPSFSampleRadial(const double *prof, ptrdiff_t nr, double dr, double dxy, PetscBool symmetric_z, const ptrdiff_t n[3], const char *name, float *h);

#endif
