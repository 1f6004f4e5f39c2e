/* Richardson-Lucy with Bertero-Boccacci boundary weights.

     x_{k+1} = x_k · Hᵀ( M·y / (H x_k + b) ) / Hᵀ(M·1)

   M is the measured box (the data term lives there only), b the background. Each iteration is
   one PdRLCorrection (2 forward + 2 inverse FFTs, one fused ratio pass) and the update, run on
   each plane of Hᵀ's inverse transform while it is in cache (PdRLCorrectionFused), which also
   writes x_{k+1} into the FFT buffer, where the plane's forward 2-D transform for the next
   iteration's H follows at once (the chain of PdRLPasses: between iterations the buffer holds the
   planes' transforms, one pass over the volume less).
   Working-size volumes per rank: x and the FFT buffer (which holds the spectrum too): 2, plus the
   OTF and the data on the image box; w = 1/Hᵀ(M·1) is computed row by row
   from the PSF's box sums (box_weights.c) instead of stored. */
#include "decon/decon_impl.h"

static PetscErrorCode RLSetUp(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PetscArraycpy(d->work, d->x, PdDeconLocalCount(d)));
  PetscCall(PdFFTConvDropPlanes(d->conv)); /* x, not the planes a previous solve's last step left */
  PetscFunctionReturn(0);
}

/* The update of one local plane z: x <- x · c · w, and x into the FFT buffer for the next H;
   ||x_{k+1} - x_k||², ||x_k||² into the thread's sums. */
typedef struct {
  double *s; /* per thread (PdDeconGetThreadSums): ||x_{k+1} - x_k||², ||x_k||² */
  PdDecon d;
} RLUpdate;

PD_TARGET_CLONES static void UpdatePlane(void *ctx, ptrdiff_t z, int thread)
{
  RLUpdate       *u  = (RLUpdate *)ctx;
  double          a0 = 0, a1 = 0;
  const ptrdiff_t ahead = PdPrefetchRows(sizeof(float) * (size_t)u->d->lay->rs);

  for (ptrdiff_t yy = 0; yy < u->d->lay->n[1]; yy++) {
    const ptrdiff_t       rs = u->d->lay->rs, o = z * u->d->lay->ps + yy * rs;
    const float *restrict w = PdDeconWeightsRow(u->d, z, yy);
    float *restrict       x = u->d->x + o, *restrict work = u->d->work + o;
    float                 r0 = 0, r1 = 0; /* a row's sums in float (a row is short: full SIMD width), the rows' in double */
    if (yy + ahead < u->d->lay->n[1]) PdPrefetchRow(x + ahead * rs, sizeof(float) * (size_t)rs);
#pragma omp simd reduction(+ : r0, r1)
    for (ptrdiff_t i = 0; i < rs; i++) {
      float xn = x[i] * work[i] * w[i];
      float dx = xn - x[i];
      r0 += dx * dx;
      r1 += x[i] * x[i];
      x[i]    = xn;
      work[i] = xn;
    }
    a0 += r0;
    a1 += r1;
  }
  u->s[PD_THREAD_SUMS * thread] += a0;
  u->s[PD_THREAD_SUMS * thread + 1] += a1;
}

static PetscErrorCode RLStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  const int nt = PdGetThreads();
  RLUpdate  u  = {NULL, d};
  PdRLPasses p  = {NULL, UpdatePlane, &u, PETSC_TRUE};
  double    s[2] = {0, 0}; /* ||x_{k+1} - x_k||², ||x_k||² */

  PetscFunctionBegin;
  PetscCall(PdDeconGetThreadSums(d, &u.s));
  /* the update runs on each plane of the correction as Hᵀ's inverse transform makes it */
  PetscCall(PdRLCorrectionFused(d, want_obj, obj, &p));
  PetscCall(PetscLogFlops(5.0 * PdDeconLocalCount(d)));
  for (int t = 0; t < nt; t++) {
    s[0] += u.s[PD_THREAD_SUMS * t];
    s[1] += u.s[PD_THREAD_SUMS * t + 1];
  }
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RL = {.name = "rl", .description = "Richardson-Lucy, boundary weighted", .nvolumes = 2, .setup = RLSetUp, .step = RLStep, .row_weights = PETSC_TRUE, .real_otf = PETSC_TRUE, .data_counts = PETSC_TRUE};
