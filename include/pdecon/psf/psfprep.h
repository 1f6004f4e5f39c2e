/* Preparing a PSF (measured or computed) for convolution: validate, clip negatives, normalise to
   sum 1, find its centre, crop it to the extent that can matter. The PSF is small and held whole
   (compact z,y,x) on every rank, so these are serial operations. */
#ifndef PDECON_PSFPREP_H
#define PDECON_PSFPREP_H

#include <pdecon/core/sys.h>

typedef enum { PD_PSF_CENTER_PEAK, PD_PSF_CENTER_CENTROID, PD_PSF_CENTER_MIDDLE } PdPSFCenter;
extern const char *const PdPSFCenterTypes[];

/* Errors (PD_ERR_INPUT, naming `name`) for NaN/Inf or an all-zero PSF; negative values are set to
   zero (measured PSFs carry noise around a background); then h /= sum(h). */
PetscErrorCode PdPSFPrepNormalize(MPI_Comm comm, const char *name, const ptrdiff_t pn[3], float *psf);
/* Voxel taken as the PSF's origin: the brightest voxel, the rounded intensity centroid, or the
   array middle (pn/2, the convention of computed PSFs). */
PetscErrorCode PdPSFPrepCenter(const ptrdiff_t pn[3], const float *psf, PdPSFCenter mode, ptrdiff_t c[3]);
/* Crop in place to at most maxn[d] voxels per axis, keeping the centre c inside and moving it
   with the crop; pn and c are updated. Renormalises when mass was removed. */
PetscErrorCode PdPSFPrepCrop(ptrdiff_t pn[3], float *psf, ptrdiff_t c[3], const ptrdiff_t maxn[3]);

#endif
