/* Distributed FFT convolution with a fixed PSF: the operators H x = h * x and Hᵀ r = h̃ * r.

   The working volume (size n = z, y, x) is split over z into slabs (FFTW-MPI's block rule). A
   forward transform does the 2-D real-to-complex transforms of the local planes, hands every
   (plane, peer) block of spectral rows to its owner as one contiguous message (slab over z ->
   slab over ky), and transforms the columns along kz; the inverse mirrors it (fft_transpose.c).
   So the spectrum of a rank is the block ky0 <= ky < ky0 + nky of every kz, and a convolution
   costs two exchanges of the volume (each value copied once, nothing packed). The exchange is in
   place: on any rank count the spectrum lives in the work buffer itself. Plans are made once (FFTW_MEASURE by default; wisdom is shared between
   ranks and saved to a file, so later runs plan in milliseconds). The OTF is computed once and
   holds the 1/N normalisation of the unnormalised FFTW transforms.

   Usage: the caller writes a real volume into the work buffer (layout from PdFFTConvGetLayout,
   rows padded to 2*(nx/2+1) floats), calls PdFFTConvApply, and reads the result from the same
   buffer. Memory per rank: the work buffer (about one working volume, a few planes more where
   the slabs are uneven) and the OTF (and a second filter, when one is set), about one working
   volume (half of one when it is real, PdFFTConvSetRealOTF, a quarter when it is also even in
   kz), plus a few plane buffers. */
#ifndef PDECON_FFTCONV_H
#define PDECON_FFTCONV_H

#include <pdecon/core/layout.h>
#include <petscviewer.h>

typedef struct _p_PdFFTConv *PdFFTConv;

PetscErrorCode PdFFTConvCreate(MPI_Comm comm, PdFFTConv *c);
/* Options (prefix "-fft_"): -fft_planner estimate|measure|patient, -fft_wisdom FILE|none. */
PetscErrorCode PdFFTConvSetFromOptions(PdFFTConv c);
/* Prepends prefix to the -fft_* option names (PETSc's convention). */
PetscErrorCode PdFFTConvSetOptionsPrefix(PdFFTConv c, const char prefix[]);
PetscErrorCode PdFFTConvSetSizes(PdFFTConv c, const ptrdiff_t n[3]);
/* Plans chosen without timing (FFTW_ESTIMATE), so that every run rounds alike: for data a
   restarted run must regenerate bit for bit (training pairs). Before PdFFTConvSetUp. */
PetscErrorCode PdFFTConvSetReproducible(PdFFTConv c);
/* Makes the plans (collective). Reports planning time through PetscInfo and PdFFTConvView. */
PetscErrorCode PdFFTConvSetUp(PdFFTConv c);
PetscErrorCode PdFFTConvGetLayout(PdFFTConv c, const PdLayout **lay);
PetscErrorCode PdFFTConvGetWork(PdFFTConv c, float **work);
/* psf: compact pn[0] x pn[1] x pn[2] array present on every rank; voxel `center` of the PSF is
   placed at the origin (circularly), so H does not shift the image. pn <= n in every axis. The
   PSF is used as given (normalise it first). Uses the work buffer. */
PetscErrorCode PdFFTConvSetPSF(PdFFTConv c, const ptrdiff_t pn[3], const float *psf, const ptrdiff_t center[3]);
/* work <- H work (transpose = FALSE) or Hᵀ work (TRUE): forward FFT, multiply by OTF or its
   conjugate, inverse FFT. */
PetscErrorCode PdFFTConvApply(PdFFTConv c, PetscBool transpose);
/* A pass fused into the inverse transforms: fn(ctx, zl, thread) runs on each local plane zl of
   the work buffer right after its inverse 2-D transform wrote it, while the plane is in cache
   (RL's ratio pass), from the thread (0 <= thread < *nthreads) that transformed it. Set it before
   PdFFTConvApply and remove it (NULL) after; *nthreads: the threads that may call it. */
typedef void (*PdFFTPlaneFn)(void *ctx, ptrdiff_t zl, int thread);
PetscErrorCode PdFFTConvSetInversePlaneFn(PdFFTConv c, PdFFTPlaneFn fn, void *ctx, int *nthreads);
/* Its mirror in the forward transforms: fn(ctx, zl, thread) runs on each local plane zl right
   before its forward 2-D transform reads it, so that a pass that makes the transform's input
   (accelerated RL's prediction) writes each plane while it stays in cache. Same rules. */
PetscErrorCode PdFFTConvSetForwardPlaneFn(PdFFTConv c, PdFFTPlaneFn fn, void *ctx, int *nthreads);
/* Two convolutions in a row with a pass between them: work <- B(fn(A(work))), A and B each H,
   Hᵀ or the filter (PdFFTConvGetFilter). fn(ctx, zl, thread) runs on each local plane of A's
   result (as an inverse plane function would; RL's ratio between H and Hᵀ), and where the slots
   allow it (one rank, or n1 a multiple of the rank count) each plane is transformed back by A,
   passed through fn and transformed forward for B while it stays in cache, one pass over the
   volume instead of two. The same values as PdFFTConvApply twice with fn as the first's inverse
   plane function. The forward plane function runs before A's forward transforms, the inverse
   one after B's inverse transforms. */
typedef enum { PD_FFT_APPLY_H, PD_FFT_APPLY_HT, PD_FFT_APPLY_FILTER } PdFFTApply;
PetscErrorCode PdFFTConvApplyTwo(PdFFTConv c, PdFFTApply a, PdFFTPlaneFn fn, void *ctx, PdFFTApply b);
/* The same for a chain of iterations: with `keep` each plane of B's result is passed through the
   inverse plane function and transformed forward again for the next call while it is in cache,
   and the work buffer is left holding the planes' 2-D transforms (in the slots), not real values;
   the next PdFFTConvApplyTwoPlanes starts from them (one pass over the volume less per call).
   Bit for bit the values of PdFFTConvApplyTwo in a row. While it holds them the buffer is not the
   caller's to read; a caller that writes real values into it calls PdFFTConvDropPlanes before the
   next PdFFTConvApplyTwoPlanes (every other call takes the buffer as real values). No forward
   plane function on held planes. */
PetscErrorCode PdFFTConvApplyTwoPlanes(PdFFTConv c, PdFFTApply a, PdFFTPlaneFn fn, void *ctx, PdFFTApply b, PetscBool keep);
PetscErrorCode PdFFTConvDropPlanes(PdFFTConv c);
/* The transforms of one PdFFTConvApply without the product: work <- N work, the spectrum left
   where H leaves it (the floor an iteration's four transforms are measured against); on held
   planes (PdFFTConvApplyTwoPlanes) the same transforms from there, the planes held again. */
PetscErrorCode PdFFTConvRoundTrip(PdFFTConv c);
/* The bare transforms on the work buffer, unnormalised (for benchmarks and tests). */
PetscErrorCode PdFFTConvForward(PdFFTConv c);
PetscErrorCode PdFFTConvInverse(PdFFTConv c);
/* Spectral access, for methods that work in the Fourier domain (ADMM, inverse filters). After
   PdFFTConvForward the spectrum (the work buffer itself) holds ncplx complex values (interleaved
   re, im) with index i = (kz * nky + (ky - ky0)) * (n2/2 + 1) + kx for this rank's ky0 <= ky <
   ky0 + nky (nky may be 0); PdFFTConvInverse reads it (and destroys it) and writes the real
   volume in its place. Inverse(Forward(x))
   = N x with N = n0 n1 n2. The OTF is stored divided by N in the same layout, so
   Inverse(OTF * Forward(x)) = H x; the true transfer function is N * OTF. */
PetscErrorCode PdFFTConvGetSpectrum(PdFFTConv c, float **spec);
PetscErrorCode PdFFTConvGetSpectralLayout(PdFFTConv c, ptrdiff_t *ncplx, ptrdiff_t *ky0, ptrdiff_t *nky);
PetscErrorCode PdFFTConvGetOTF(PdFFTConv c, const float **otf, double *N);
/* A PSF with h(-r) = h(r) about its centre has a real OTF. With allow (before PdFFTConvSetPSF), a
   PSF that is centro-symmetric (PdFFTConvPSFIsCentrosymmetric) gets its OTF stored as the real
   part only, half the memory, and H, Hᵀ multiply by a real number; for an owner whose methods use
   the OTF only through PdFFTConvApply, whose OTF is then also stored in the order H reads it
   (PdFFTConvGetOTFStored). PdFFTConvGetOTF and PdFFTConvSwapOTF (callers that read the complex
   layout) turn it back into complex storage in (kz, ky, kx) order first. Default: complex. */
PetscErrorCode PdFFTConvSetRealOTF(PdFFTConv c, PetscBool allow);
PetscErrorCode PdFFTConvGetOTFIsReal(PdFFTConv c, PetscBool *real);
/* The OTF as it is stored, without expanding it: real values when *real, else ncplx complex
   values on interleaved floats; divided by N like PdFFTConvGetOTF's. A real OTF of a PSF that is
   also symmetric under z -> -z about its centre (PdFFTConvPSFIsZSymmetric; Born & Wolf, Gibson &
   Lanni in focus) is even in kz, OTF(kz) = OTF(n0 - kz), and only kz <= n0/2 is stored (a quarter
   of a complex spectrum). For an owner that uses the OTF only through PdFFTConvApply
   (PdFFTConvSetRealOTF) it is also stored block by block of spectral rows, in the order the
   transforms along kz read it. Spectral value i has the OTF's value otf[j] (real) or otf[2j],
   otf[2j + 1] (complex), j = PdFFTConvOTFStoredIndex(c, i). */
PetscErrorCode PdFFTConvGetOTFStored(PdFFTConv c, const float **otf, PetscBool *real, double *N);
ptrdiff_t      PdFFTConvOTFStoredIndex(PdFFTConv c, ptrdiff_t i);
/* Whether the OTF's imaginary part is float rounding: half the sum of |h(r) - h(-r)| about the
   centre (the mirror wrapped as in a working size n) at most 1e-6 of the sum of |h|, which bounds
   |Im OTF| against max |Re OTF|. The same answer on every rank (the PSF is everywhere). */
PetscErrorCode PdFFTConvPSFIsCentrosymmetric(const ptrdiff_t n[3], const ptrdiff_t pn[3], const float *psf, const ptrdiff_t center[3], PetscBool *sym);
/* Whether h(-z, y, x) = h(z, y, x) about the centre to float rounding (the same bound). */
PetscErrorCode PdFFTConvPSFIsZSymmetric(const ptrdiff_t n[3], const ptrdiff_t pn[3], const float *psf, const ptrdiff_t center[3], PetscBool *sym);
/* A second spectral filter G beside the OTF, in the same distributed layout and scale (stored
   divided by N, so Inverse(G_stored * Forward(x)) applies the transfer function G): e.g. an
   unmatched back projector that replaces Hᵀ. PdFFTConvGetFilter allocates it (zero) on first use
   and returns it for the caller to fill (ncplx complex values, index as the spectrum);
   PdFFTConvApplyFilter: work <- F⁻¹(G · F(work)), the cost of PdFFTConvApply;
   PdFFTConvDestroyFilter frees it (PdFFTConvDestroy does too). One more spectrum of memory. */
PetscErrorCode PdFFTConvGetFilter(PdFFTConv c, float **filter);
PetscErrorCode PdFFTConvApplyFilter(PdFFTConv c);
PetscErrorCode PdFFTConvDestroyFilter(PdFFTConv c);
/* sym[i] = sum_d w_d^2 4 sin^2(pi k_d / n_d): the transfer function of DᵀD for periodic forward
   differences D with voxel weights w (z, y, x), i.e. the negative Laplacian; ncplx floats. */
PetscErrorCode PdFFTConvDiffSymbol(PdFFTConv c, const double w[3], float *sym);
PetscErrorCode PdFFTConvGetPlanTime(PdFFTConv c, double *seconds, PetscBool *wisdom_used);
PetscErrorCode PdFFTConvView(PdFFTConv c, PetscViewer v);
PetscErrorCode PdFFTConvDestroy(PdFFTConv *c);

/* Floats per rank in the work buffer (which holds the spectrum too) and in the plane buffers
   (PdGetThreads() threads) of a working volume of size n on comm, without allocating anything
   (for memory planning). */
PetscErrorCode PdFFTConvLocalSizes(MPI_Comm comm, const ptrdiff_t n[3], size_t *work, size_t *planes);

/* Smallest size >= n whose only prime factors are 2, 3, 5 and 7 (smooth FFT sizes). */
ptrdiff_t PdFFTGoodSize(ptrdiff_t n);
/* The smooth size from n to n + n/16 with the smallest odd part (PdFFTGoodSize(n) when the
   range has no other; no two in it share an odd part, as those differ by a factor 2): FFTW's transforms of a length run the
   faster the more of it is powers of 2 (128 points 2.5 times faster a point than 126 = 2·3²·7,
   docs/scaling.md), so a few voxels more per axis buy a faster transform. */
ptrdiff_t PdFFTFastSize(ptrdiff_t n);

/* Sets the OTF from a working-size PSF the caller has written into the work buffer (origin at
   voxel 0, wrapped; row padding zero): forward transform, then OTF = FFT(work) / N as in
   PdFFTConvSetPSF. For methods that re-estimate the PSF (blind deconvolution). The spectrum
   buffer holds the unnormalised spectrum afterwards. */
PetscErrorCode PdFFTConvSetOTFFromWork(PdFFTConv c);

/* Exchanges the OTF buffer with the caller's (2 ncplx floats, same layout): H and Hᵀ then use
   the caller's OTF, and *otf receives the previous one. For several operators on one set of
   plans (multi-view deconvolution keeps one OTF per view); swap back before PdFFTConvDestroy. */
PetscErrorCode PdFFTConvSwapOTF(PdFFTConv c, float **otf);

#endif
