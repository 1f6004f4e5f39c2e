/* Training pairs for the 2-D restoration networks (cnn.h): SRCNN (Dong et al., ECCV 2014) and
   Isonet (Weigert et al., MICCAI 2017).

   A pair set holds volumes whose lateral slices are (input, target) image pairs, compact z,y,x and
   whole on every rank. Both volumes of a pair are mapped by the same affine map
   v ↦ (v − P2)/(P99.8 − P2), the percentiles of the input (inference can compute the same map
   from what it is given), so the network sees unit-range data and the residual of Isonet stays
   an intensity difference.

   Isonet pairs (PdCNNDataAddIsonet) are made from one anisotropic stack f: each lateral slice
   p = f[z] is a target, and its input imitates the axial degradation along X:
     x̃ = U_σ S_σ (h_aniso ∗ p)   (∗: 2-D correlation with zero padding, "same" size)
   h_aniso the rotated PSF (the optical axis laid along X, PdCNNRotatedPSF), S_σ nearest sampling at
   x = kσ, k = 0 … m−1, m = ⌊(X−1)/σ⌋ + 1, and U_σ linear interpolation between those samples;
   input and target are cropped to the X = ⌊(m−1)σ⌋ + 1 columns the samples span.

   Sample `item` (train_batch.h) is a patch of side `in` of a random slice of a random pair, at a
   random place, and the centred patch of side `out` of its target (out < in for valid-convolution
   networks such as SRCNN's 33 → 21). Up to 16 draws from the item's stream look for a patch whose
   target reaches `foreground` × the 99.9th percentile of its pair's target (CSBDeep's background
   filter); the last draw is kept otherwise. */
#ifndef PDECON_CNN_DATA_H
#define PDECON_CNN_DATA_H

#include <pdecon/core/layout.h>

/* The percentiles (%) of the normalisation map. */
#define PD_CNN_NORM_LO 2.0
#define PD_CNN_NORM_HI 99.8

typedef struct _p_PdCNNData *PdCNNData;

PetscErrorCode PdCNNDataCreate(MPI_Comm comm, PdCNNData *d);
/* Patch sides: input `in`, target `out` (centred in the input window, out <= in, same parity). */
PetscErrorCode PdCNNDataSetPatch(PdCNNData d, PetscInt in, PetscInt out);
PetscErrorCode PdCNNDataSetSeed(PdCNNData d, unsigned long long seed);
/* Background filter threshold (0: off; default 0.4). */
PetscErrorCode PdCNNDataSetForeground(PdCNNData d, double foreground);
/* The lateral slices of input and target (same size n, compact, on every rank) as pairs, of the
   training or the validation set. Collective. */
PetscErrorCode PdCNNDataAddPairs(PdCNNData d, const ptrdiff_t n[3], const float *input, const float *target, const char *name, PetscBool validation);
/* Isonet pairs from the lateral slices of the stack v (size n, on every rank): blur with h (hn[0]
   rows along Y × hn[1] columns along X, centred at hn/2, sum 1), add Gaussian noise of standard
   deviation noise (in units of the normalised data; 0: none; drawn from streams keyed on the
   voxel, so the same on any number of ranks), subsample along X by sigma >= 1 and interpolate back.
   The slices are shared among the ranks and gathered. Collective. */
PetscErrorCode PdCNNDataAddIsonet(PdCNNData d, const ptrdiff_t n[3], const float *v, const ptrdiff_t hn[2], const float *h, double sigma, double noise, const char *name, PetscBool validation);
/* Sample `item` of the training or validation set: in[in²], target[out²] (row-major y, x). */
PetscErrorCode PdCNNDataDraw(PdCNNData d, PetscBool validation, unsigned long long item, float *in, float *target);
/* Pairs held: training, validation. */
PetscErrorCode PdCNNDataGetCount(PdCNNData d, PetscInt *ntrain, PetscInt *nval);
/* Adds everything that changes the samples (sizes, data, seed, patch settings) to a hash. */
PetscErrorCode PdCNNDataHash(PdCNNData d, unsigned long long *h);
PetscErrorCode PdCNNDataDestroy(PdCNNData *d);

/* Percentiles q[0..nq) (in %, nearest rank) of the values v[k·stride], stride =
   PdCNNPercentileStride(N): at most about 2^20 samples of a volume of N values. */
static inline ptrdiff_t PdCNNPercentileStride(ptrdiff_t N) { return N >> 20 > 1 ? N >> 20 : 1; }
PetscErrorCode PdCNNPercentiles(ptrdiff_t N, const float *v, int nq, const double *q, double *out);
/* Isonet's degradation of one slice (ny × nx): out (ny × *ncols, *ncols <= nx columns) as above,
   without noise. */
PetscErrorCode PdCNNIsonetDegrade(const ptrdiff_t n[2], const float *slice, const ptrdiff_t hn[2], const float *h, double sigma, float *out, ptrdiff_t *ncols);
/* The xz-section through the centre of a 3-D PSF sampled on an isotropic grid (psf: pn[0] planes
   along z, compact z,y,x), turned so that z runs along X: h[y][x] = psf[x][pn[1]/2][y], with
   hn <= {pn[2], pn[0]}: cropped symmetrically about the centre to the values above 1e-3 of the
   peak (the direct convolution's cost), clipped at 0 and normalised to sum 1; h holds
   pn[2]·pn[0] floats. */
PetscErrorCode PdCNNRotatedPSF(const ptrdiff_t pn[3], const float *psf, ptrdiff_t hn[2], float *h);

#endif
