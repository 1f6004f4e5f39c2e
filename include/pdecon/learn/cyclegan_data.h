/* Training volumes of the cycleGAN and of the supervised U-Net (cyclegan.h): sharp volumes
   (domain X) and blurred volumes (domain Y), whole on every rank, each mapped to [0, 1] by
   v ↦ clip((v − P0.25)/(P99.75 − P0.25), 0, 1) with its own percentiles (the range of G's
   sigmoid output).

   Sample `item` of a domain (train_batch.h: the item of sample j of step b) is a random crop of
   side p of a random volume of that domain, turned by a random multiple of 90° in the lateral
   (y, x) plane and flipped along y and x at random (never along z, nor z ↔ x: that would turn the
   anisotropic PSF). The domains draw from independent streams (unpaired samples). A paired draw
   (the supervised baseline) takes the same crop and turn of pair k of X and Y, which must then
   have the same sizes. */
#ifndef PDECON_CYCLEGAN_DATA_H
#define PDECON_CYCLEGAN_DATA_H

#include <petscsys.h>

#define PD_GAN_NORM_LO 0.25
#define PD_GAN_NORM_HI 99.75

typedef struct _p_PdGANData *PdGANData;

PetscErrorCode PdGANDataCreate(unsigned long long seed, PdGANData *d);
PetscErrorCode PdGANDataDestroy(PdGANData *d);
/* A volume (size n, compact z, y, x) of domain 0 (X, sharp) or 1 (Y, blurred), normalised on
   its way in; every side must be >= the patch side used. */
PetscErrorCode PdGANDataAdd(PdGANData d, PetscInt domain, const ptrdiff_t n[3], const float *v);
PetscErrorCode PdGANDataGetCount(PdGANData d, PetscInt domain, PetscInt *count);
/* Sample `item` of a domain into out (p³ floats); paired: from the same pair of both domains
   (x and y, NULL for one not wanted). */
PetscErrorCode PdGANDataDraw(PdGANData d, PetscInt domain, unsigned long long item, PetscInt p, float *out);
PetscErrorCode PdGANDataDrawPaired(PdGANData d, unsigned long long item, PetscInt p, float *x, float *y);
/* Folds the seed and every volume (sizes and normalised values) into the fingerprint h
   (checkpoints refuse other data). */
PetscErrorCode PdGANDataHash(PdGANData d, unsigned long long *h);
/* v (N values) ↦ clip((v − lo)/(hi − lo), 0, 1) with the percentiles above: in place. */
PetscErrorCode PdGANNormalize(ptrdiff_t N, float *v, double *lo, double *hi);

#endif
