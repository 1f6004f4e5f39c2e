/* Sizes every part of the solver loops over (included by decon_impl.h, after the state). */
#ifndef PDECON_DECON_COUNTS_H
#define PDECON_DECON_COUNTS_H

/* Views of the data (1 for a single view). */
static inline PetscInt PdDeconViewCount(PdDecon d) { return d->nviews > 1 ? d->nviews : 1; }

/* Number of floats in the local slab of a working volume (flat loops over the slab). */
static inline ptrdiff_t PdDeconLocalCount(PdDecon d) { return d->lay->nzl * d->lay->ps; }

#endif
