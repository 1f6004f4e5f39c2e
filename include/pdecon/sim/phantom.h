/* Synthetic ground truth: a volume of random labelled microtubules.

   Tubes are smooth random curves (persistent random walks with slowly varying curvature, mostly
   lateral with a gentle axial slope). Fluorophores sit uniformly in the labelled shell
   r_inner <= distance <= r_outer around the centre line, at `density` per nm of tube length (a
   Poisson process), and each is rendered as a small 3D Gaussian integrated over the voxels of the
   anisotropic grid. The result depends only on the options and the global size, never on the
   number of ranks (bit for bit), and is scaled so that its maximum is 1. */
#ifndef PDECON_PHANTOM_H
#define PDECON_PHANTOM_H

#include <pdecon/core/layout.h>

typedef struct {
  PetscInt           ntubes;   /* number of tubes (default 20) */
  double             voxel[3]; /* nm z, y, x of the sampled volume (default 200, 50, 50) */
  double             r_inner;  /* nm, inner radius of the labelled shell (default 12.5: the tube wall) */
  double             r_outer;  /* nm, outer radius (default 25: wall plus antibody label) */
  double             density;  /* fluorophores per nm of tube length (default 0.5) */
  double             sigma_nm; /* Gaussian size of one fluorophore's rendering (default 10 nm) */
  unsigned long long seed;     /* default 1 */
} PdPhantomOptions;

PetscErrorCode PdPhantomOptionsDefault(PdPhantomOptions *o);
/* Reads -<prefix>phantom_ntubes, _voxel (z,y,x), _r_inner, _r_outer, _density, _sigma, _seed on
   PETSC_COMM_WORLD (collective); -help lists them. */
PetscErrorCode PdPhantomOptionsSetFromOptions(PdPhantomOptions *o, const char *prefix);
/* Fills the local slab of a volume of global size lay->n (any strides; row padding untouched).
   Collective on lay->comm. A phantom with no fluorophores in the volume stays zero. */
PetscErrorCode PdPhantomMicrotubules(const PdPhantomOptions *o, const PdLayout *lay, float *v);

#endif
