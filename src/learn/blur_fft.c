/* The FFT blur layer (blur_fft.h).

   On the zero-padded grid of size N >= n + k − 1 the circular products below equal the linear
   ones on the volume: with X̂ = F(pad x), Ĝ = F(pad g) and the OTF ĥ (the kernel's centre at the
   origin; F unnormalised, F⁻¹F = N),
     H x    = crop F⁻¹(ĥ · X̂) / N
     Hᵀ g   = crop F⁻¹(conj ĥ · Ĝ) / N
     ∂L/∂h  = r[q − c] with r = F⁻¹(Ĝ · conj X̂) / N  (r[m] = Σ_p g[p] x[p − m]).
   Backward recomputes X̂ from the input instead of keeping it, so one layer serves the two blurs
   of a cycleGAN iteration (h ⊛ x and h ⊛ G(y)). */
#include <pdecon/learn/blur_fft.h>
#include <pdecon/fft/fftconv.h>
#include <pdecon/core/sys.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _p_PdBlurFFT {
  PetscInt        k, c, n[3];
  ptrdiff_t       N[3], ncplx;
  PdFFTConv       fc;
  const PdLayout *lay;
  float          *work, *spec, *save; /* save: one spectrum */
  PetscBool       kernel_set;
};

PetscErrorCode PdBlurFFTCreate(PetscInt k, const PetscInt n[3], PdBlurFFT *b)
{
  PdBlurFFT B;

  PetscFunctionBegin;
  PetscCheck(k > 0 && n[0] > 0 && n[1] > 0 && n[2] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "blur layer: kernel and volume sizes must be positive");
  PetscCall(PetscNew(&B));
  B->k = k;
  B->c = k / 2;
  for (int d = 0; d < 3; d++) {
    B->n[d] = n[d];
    B->N[d] = PdFFTGoodSize(n[d] + k - 1);
  }
  PetscCall(PdFFTConvCreate(PETSC_COMM_SELF, &B->fc));
  PetscCall(PdFFTConvSetReproducible(B->fc)); /* every rank and every run rounds alike */
  PetscCall(PdFFTConvSetSizes(B->fc, B->N));
  PetscCall(PdFFTConvSetUp(B->fc));
  PetscCall(PdFFTConvGetLayout(B->fc, &B->lay));
  PetscCall(PdFFTConvGetWork(B->fc, &B->work));
  PetscCall(PdFFTConvGetSpectrum(B->fc, &B->spec));
  PetscCall(PdFFTConvGetSpectralLayout(B->fc, &B->ncplx, NULL, NULL));
  PetscCall(PetscMalloc1(2 * B->ncplx, &B->save));
  *b = B;
  PetscFunctionReturn(0);
}

PetscErrorCode PdBlurFFTDestroy(PdBlurFFT *b)
{
  PetscFunctionBegin;
  if (!*b) PetscFunctionReturn(0);
  PetscCall(PdFFTConvDestroy(&(*b)->fc));
  PetscCall(PetscFree((*b)->save));
  PetscCall(PetscFree(*b));
  PetscFunctionReturn(0);
}

PetscErrorCode PdBlurFFTSetKernel(PdBlurFFT b, const float *h)
{
  const ptrdiff_t pn[3] = {b->k, b->k, b->k}, c[3] = {b->c, b->c, b->c};

  PetscFunctionBegin;
  PetscCall(PdFFTConvSetPSF(b->fc, pn, h, c));
  b->kernel_set = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* The work buffer <- v (a volume of size n) zero-padded to N. */
static void Pad(PdBlurFFT b, const float *v)
{
  memset(b->work, 0, sizeof(float) * (size_t)(b->N[0] * b->lay->ps));
  for (PetscInt z = 0; z < b->n[0]; z++)
    for (PetscInt y = 0; y < b->n[1]; y++) memcpy(b->work + z * b->lay->ps + y * b->lay->rs, v + (z * b->n[1] + y) * b->n[2], sizeof(float) * (size_t)b->n[2]);
}

/* v (= or +=) the work buffer's first n voxels. */
static void Crop(PdBlurFFT b, float *v)
{
  for (PetscInt z = 0; z < b->n[0]; z++)
    for (PetscInt y = 0; y < b->n[1]; y++) memcpy(v + (z * b->n[1] + y) * b->n[2], b->work + z * b->lay->ps + y * b->lay->rs, sizeof(float) * (size_t)b->n[2]);
}

/* spec <- s · a · (conj_b ? conj b : b), interleaved complex. */
static void Multiply(ptrdiff_t ncplx, float *w, const float *a, const float *bb, PetscBool conj_b, float s)
{
  const float sg = conj_b ? -1.0f : 1.0f;
#pragma omp parallel for simd schedule(static)
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    const float ar = a[2 * i], ai = a[2 * i + 1], br = bb[2 * i], bi = sg * bb[2 * i + 1];
    w[2 * i]     = s * (ar * br - ai * bi);
    w[2 * i + 1] = s * (ar * bi + ai * br);
  }
}

static PetscErrorCode CheckShape(PdBlurFFT b, const PdTensor *t)
{
  PetscFunctionBegin;
  PetscCheck(t->c == 1 && t->d == b->n[0] && t->h == b->n[1] && t->w == b->n[2], PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "blur layer: a %" PetscInt_FMT "-channel %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " tensor, expected 1 channel of %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, t->c, t->d, t->h, t->w, b->n[0], b->n[1], b->n[2]);
  PetscCheck(b->kernel_set, PETSC_COMM_SELF, PETSC_ERR_ORDER, "blur layer: set the kernel first");
  PetscFunctionReturn(0);
}

PetscErrorCode PdBlurFFTForward(PdBlurFFT b, const PdTensor *in, PdTensor *out)
{
  const PetscInt M = PdTensorSpatial(in);

  PetscFunctionBegin;
  PetscCall(CheckShape(b, in));
  PetscCheck(out->n == in->n, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "blur layer: output batch differs");
  for (PetscInt s = 0; s < in->n; s++) {
    Pad(b, in->v + s * M);
    PetscCall(PdFFTConvApply(b->fc, PETSC_FALSE));
    Crop(b, out->v + s * M);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdBlurFFTBackward(PdBlurFFT b, const PdTensor *in, const PdTensor *g, PdTensor *din, float *dh)
{
  const PetscInt M = PdTensorSpatial(in), k = b->k;
  const double   Ntot = (double)b->N[0] * (double)b->N[1] * (double)b->N[2];
  const float   *otf;
  double         dummy;

  PetscFunctionBegin;
  PetscCall(CheckShape(b, in));
  PetscCall(CheckShape(b, g));
  PetscCall(PdFFTConvGetOTF(b->fc, &otf, &dummy));
  for (PetscInt s = 0; s < in->n; s++) {
    if (din) {
      Pad(b, g->v + s * M);
      PetscCall(PdFFTConvApply(b->fc, PETSC_TRUE));
      Crop(b, din->v + s * M);
    }
    if (!dh) continue;
    /* X̂ saved, then Ĝ · conj X̂ / N */
    Pad(b, in->v + s * M);
    PetscCall(PdFFTConvForward(b->fc));
    PetscCall(PetscArraycpy(b->save, b->spec, 2 * b->ncplx));
    Pad(b, g->v + s * M);
    PetscCall(PdFFTConvForward(b->fc));
    Multiply(b->ncplx, b->spec, b->spec, b->save, PETSC_TRUE, (float)(1.0 / Ntot));
    PetscCall(PdFFTConvInverse(b->fc));
    for (PetscInt qz = 0; qz < k; qz++)
      for (PetscInt qy = 0; qy < k; qy++)
        for (PetscInt qx = 0; qx < k; qx++) {
          const ptrdiff_t z = (qz - b->c + b->N[0]) % b->N[0], y = (qy - b->c + b->N[1]) % b->N[1], x = (qx - b->c + b->N[2]) % b->N[2];
          dh[(qz * k + qy) * k + qx] += b->work[z * b->lay->ps + y * b->lay->rs + x];
        }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdBlurGaussianKernel(PetscInt k, double sz, double sxy, float *h)
{
  const PetscInt c = k / 2;
  double         sum = 0;

  PetscFunctionBegin;
  PetscCheck(sz > 0 && sxy > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Gaussian kernel: widths must be positive");
  for (PetscInt z = 0; z < k; z++)
    for (PetscInt y = 0; y < k; y++)
      for (PetscInt x = 0; x < k; x++) {
        const double r = (double)((z - c) * (z - c)) / (sz * sz) + (double)((y - c) * (y - c) + (x - c) * (x - c)) / (sxy * sxy);
        const double v = exp(-0.5 * r);
        h[(z * k + y) * k + x] = (float)v;
        sum += v;
      }
  for (PetscInt i = 0; i < k * k * k; i++) h[i] = (float)(h[i] / sum);
  PetscFunctionReturn(0);
}

static int CompareDescending(const void *a, const void *b)
{
  const float x = *(const float *)a, y = *(const float *)b;
  return (x < y) - (x > y);
}

/* Sorts a copy descending and finds the threshold τ with Σ max(h − τ, 0) = 1 (Held, Wolfe and
   Crowder's algorithm, as in Duchi et al., ICML 2008). */
PetscErrorCode PdBlurProjectSimplex(PetscInt n, float *h)
{
  float *u;
  double cum = 0, tau = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n, &u));
  PetscCall(PetscArraycpy(u, h, n));
  qsort(u, (size_t)n, sizeof(float), CompareDescending);
  for (PetscInt j = 0; j < n; j++) {
    const double t = (cum + u[j] - 1) / (double)(j + 1);
    cum += u[j];
    if (u[j] - t > 0) tau = t;
  }
  for (PetscInt i = 0; i < n; i++) h[i] = (float)PetscMax((double)h[i] - tau, 0.0);
  PetscCall(PetscFree(u));
  PetscFunctionReturn(0);
}
