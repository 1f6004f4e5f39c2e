/* Airyscan-like detector views (image scanning microscopy), for simulated multi-view data.

   A confocal scan with an array of V point detectors: detector element v sits at the offset d_v
   (projected into the sample plane) from the optical axis and sees the object through

     h_v(r) = h(r) · h(r − d_v),

   the excitation PSF times the detection PSF shifted by the element's offset (the widefield PSF
   h for both; the Stokes shift is neglected). Each view's PSF is thus the widefield PSF shifted
   by about d_v / 2 and dimmed as the element moves off axis; their sum is the confocal PSF of a
   pinhole the size of the array. The elements are the V points of a hexagonal lattice of pitch p
   nearest to the axis (1 + 6 + 12 + 13 for V = 32, as the Airyscan's 32 elements fill a
   hexagon of about 1.25 Airy units). docs/methods/multiview.md. */
#ifndef PDECON_AIRYSCAN_H
#define PDECON_AIRYSCAN_H

#include <pdecon/core/sys.h>

/* Offsets (y, x) of the V elements in units of the pitch, nearest to the axis first; V <= 127. */
PetscErrorCode PdAiryscanOffsets(PetscInt V, double (*off)[2]);
/* views: V PSFs of size pn (one after another) from the widefield PSF h (size pn),
   for element pitch `pitch` in voxels of the lateral grid (sub-voxel shifts are interpolated
   bilinearly; h is zero outside its box). The views are not normalised: their sum keeps the
   relative brightness of the elements. */
PetscErrorCode PdAiryscanViews(const float *h, const ptrdiff_t pn[3], PetscInt V, double pitch, float *views);

#endif
