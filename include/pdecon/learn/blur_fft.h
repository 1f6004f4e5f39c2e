/* The blur generator H of the cycleGAN with a linear blur kernel (Lim, Park, Lee, Chang, Sim, Ye,
   IEEE TCI 6:1127-1138, 2020): one linear 3-D convolution, no bias, computed by FFT.

     H(x)[p] = Σ_q h[q] x[p − q + c]        (convolution, zero padding, output of x's size;
                                              c = ⌊k/2⌋ per axis: the PSF's centre voxel)
     dL/dx[p] = Σ_q h[q] g[p + q − c]       (Hᵀ g: correlation with h)
     dL/dh[q] = Σ_p g[p] x[p − q + c]       (correlation of g with x)

   h is the PSF as the microscope applies it (the cross-correlation of a Conv3d with the flipped
   kernel). The products are per rank (a volume per sample, the FFT layer on PETSC_COMM_SELF) on a
   grid of fast sizes >= n + k − 1, so the circular products equal the zero-padded linear ones. */
#ifndef PDECON_BLUR_FFT_H
#define PDECON_BLUR_FFT_H

#include <pdecon/learn/nn_tensor.h>

typedef struct _p_PdBlurFFT *PdBlurFFT;

/* Kernel of side k (odd or even) on volumes of size n (z, y, x). */
PetscErrorCode PdBlurFFTCreate(PetscInt k, const PetscInt n[3], PdBlurFFT *b);
PetscErrorCode PdBlurFFTDestroy(PdBlurFFT *b);
/* The kernel, k³ values (z, y, x), used until the next call (one FFT). */
PetscErrorCode PdBlurFFTSetKernel(PdBlurFFT b, const float *h);
/* out = H(in) for each sample (c = 1, the size given at creation). */
PetscErrorCode PdBlurFFTForward(PdBlurFFT b, const PdTensor *in, PdTensor *out);
/* With g = dL/dout at input in: din (NULL: not wanted) = Hᵀ g (written); dh (NULL: not wanted,
   k³ values) += Σ over samples of g ⋆ in. */
PetscErrorCode PdBlurFFTBackward(PdBlurFFT b, const PdTensor *in, const PdTensor *g, PdTensor *din, float *dh);

/* A normalised Gaussian kernel of side k (standard deviations sz along z, sxy along y and x, in
   voxels) centred at ⌊k/2⌋: the blind initialisation. */
PetscErrorCode PdBlurGaussianKernel(PetscInt k, double sz, double sxy, float *h);
/* The Euclidean projection of h (n values) onto the simplex {h >= 0, Σh = 1}. */
PetscErrorCode PdBlurProjectSimplex(PetscInt n, float *h);

#endif
