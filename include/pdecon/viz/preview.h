/* Previews of distributed volumes: max-intensity projections (MIPs) as grey images, and a
   labelled grid of them written as a PNG (one column per volume, one row per view).

   A view is the maximum along one axis: xy (over z; ny rows of nx pixels), xz (over y; z down,
   x across) and yz (over x; z down, y across). In xz and yz, z is stretched by the voxel aspect
   ratio when the voxel size is known (at most 20 times; rows between planes are interpolated
   linearly). Each image is scaled to 8 bits between its own 0.1 and 99.9 percentiles (min..max
   when those coincide; a constant image is black). The results do not depend on the number of
   ranks. */
#ifndef PDECON_PREVIEW_H
#define PDECON_PREVIEW_H

#include <pdecon/core/layout.h>

typedef enum { PD_VIEW_XY = 1, PD_VIEW_XZ = 2, PD_VIEW_YZ = 4 } PdView;

/* Collective: the view of volume v (layout l) as an 8-bit grey image of *w x *h pixels on rank 0
   (*img: PetscFree; NULL on other ranks, where *w and *h are set too). voxel (z, y, x in nm; 0
   where unknown) may be NULL. */
PetscErrorCode PdMIPImage(const PdLayout *l, const float *v, PdView view, const double voxel[3], int *w, int *h, unsigned char **img);

/* One column of a preview: a volume and its caption (title in bold, subtitle below it; either
   may be NULL). */
typedef struct {
  const PdLayout *lay;
  const float    *v;
  const char     *title, *subtitle;
} PdPreviewColumn;

/* Collective: the preview of n volumes of the same global size as a PNG written by rank 0,
   atomically: the views (an or of PdView) one per row, each panel captioned with its view, the
   columns captioned, and a scale bar in micrometres in the first xy panel when the voxel size is
   known. */
PetscErrorCode PdPreviewWrite(const char *path, int n, const PdPreviewColumn cols[], const double voxel[3], int views);

/* "xy", "xz" or "yz" to its view; PD_ERR_INPUT naming `option` otherwise. */
PetscErrorCode PdViewFromName(MPI_Comm comm, const char *option, const char *name, PdView *view);

#endif
