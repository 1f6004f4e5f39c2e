/* What the unmatched back projectors (rl_wb.c, rl_omw.c) share: the OTF seen as a transfer
   function on this rank's block of the spectrum, the pieces every back projector is made of
   (Wiener filter, support of the OTF, normalisation B(0) = 1), and the RL update that uses B. */
#ifndef PDECON_BACKPROJECTOR_IMPL_H
#define PDECON_BACKPROJECTOR_IMPL_H

#include "decon/decon_impl.h"
#include <pdecon/methods/unmatched.h>
#include <math.h>

extern const PdMethodOps PdMethod_RL, PdMethod_RLWB, PdMethod_RLOMW;

/* This rank's spectral block: index i = (kz * nky + (ky - ky0)) * nc + kx (fftconv.h). */
typedef struct {
  ptrdiff_t    n[3], nc, ky0, nky, ncplx;
  double       N;    /* n0 n1 n2: the stored OTF is the transfer function divided by N */
  double       peak; /* max |OTF| over every rank (the transfer function's, |OTF(0)| = 1 for a PSF of sum 1) */
  const float *otf;  /* stored OTF, interleaved (re, im) */
  float       *B;    /* the FFT's second filter, to be filled */
} PdBPGrid;

/* The grid of d's FFT, its OTF's peak, and the second filter (allocated). Collective. */
PetscErrorCode PdBPGridGet(PdDecon d, PdBPGrid *g);

/* Frequency of spectral value i in cycles per voxel, (z, y, x), each in [-1/2, 1/2]. */
static inline void PdBPFrequency(const PdBPGrid *g, ptrdiff_t i, double f[3])
{
  const ptrdiff_t kx = i % g->nc, ky = g->ky0 + (i / g->nc) % g->nky, kz = i / (g->nc * g->nky);
  f[0] = (double)(kz <= g->n[0] / 2 ? kz : kz - g->n[0]) / (double)g->n[0];
  f[1] = (double)(ky <= g->n[1] / 2 ? ky : ky - g->n[1]) / (double)g->n[1];
  f[2] = (double)kx / (double)g->n[2];
}

/* How many values of the full spectrum value i stands for: the half spectrum stores kx >= 0 only,
   every 0 < kx < n2/2 also stands for its conjugate at -k. */
static inline double PdBPMultiplicity(const PdBPGrid *g, ptrdiff_t i)
{
  const ptrdiff_t kx = i % g->nc;
  return kx == 0 || 2 * kx == g->n[2] ? 1.0 : 2.0;
}

/* The normalised OTF Ô = OTF / peak at i (re, im). */
static inline void PdBPOTF(const PdBPGrid *g, ptrdiff_t i, double o[2])
{
  o[0] = g->N * g->otf[2 * i] / g->peak;
  o[1] = g->N * g->otf[2 * i + 1] / g->peak;
}

/* Wiener back projector (1 + α) conj(Ô) / (|Ô|² + α) at i: 1 at zero frequency. */
static inline void PdBPWiener(const PdBPGrid *g, ptrdiff_t i, double alpha, double w[2])
{
  double o[2], s;
  PdBPOTF(g, i, o);
  s    = (1.0 + alpha) / (o[0] * o[0] + o[1] * o[1] + alpha);
  w[0] = s * o[0];
  w[1] = -s * o[1];
}

/* Extent of the OTF support {|Ô| >= ratio} along each axis (cycles per voxel, at least one
   frequency step). Collective. */
PetscErrorCode PdBPSupportExtent(MPI_Comm comm, const PdBPGrid *g, double ratio, double e[3]);
/* B (the transfer function, in g->B) divided by its real value at zero frequency, so that
   B(1) = 1 far from the edges, and by N, the scale the FFT stores filters in. Collective. */
PetscErrorCode PdBPNormalize(MPI_Comm comm, const PdBPGrid *g);
/* B = Hᵀ exactly (the conjugate stored OTF): the unmatched iteration becomes RL. */
PetscErrorCode PdBPMatched(const PdBPGrid *g);

/* After a change of the back projector's parameters: build it and the weights anew at the next
   solve. */
void PdBPInvalidate(PdDecon d);
/* RL's set-up: x into the FFT buffer. */
PetscErrorCode PdBPSetUp(PdDecon d);
/* One RL update with the unmatched back projector: x <- x · B(y / (Hx + b)) · w, w = 1 / B(1_box).
   B has negative lobes, so the product can turn negative; such voxels restart from eps. */
PetscErrorCode PdBPStep(PdDecon d, PetscBool want_obj, double *obj, double *change);

#endif
