/* The FFT convolution's plan (conv_fft.c computes it): its settings (-nn_fft_tile, -nn_fft_measure),
   how it tiles an output, and what that costs, which auto's choice in backend.c weighs against
   the direct convolution. Kept apart from the transforms so that the choice needs none of them. */
#include "learn/nn/nn_impl.h"
#include <pdecon/fft/fftconv.h>

/* The planning settings (-nn_fft_tile, -nn_fft_measure; read by backend.c's options) */
static PetscInt  fft_tile    = 0; /* 0: by the planner (32 with measured plans, 64 with estimated ones) */
static PetscBool fft_measure = PETSC_FALSE;

PetscInt  PdNNFftTile(void) { return fft_tile ? fft_tile : fft_measure ? 32 : 64; }
PetscBool PdNNFftMeasure(void) { return fft_measure; }
void      PdNNFftGetPlanning(PetscInt *tile, PetscBool *measure)
{
  *tile    = fft_tile;
  *measure = fft_measure;
}
void PdNNFftSetPlanning(PetscInt tile, PetscBool measure)
{
  fft_tile    = tile;
  fft_measure = measure;
}

/* The FFT size for n points under estimated plans: the smallest of the sizes on which FFTW's
   estimated 2-D plans were measured fast (single-precision r2c, 8 transforms in cache: 1.2 to 2.5
   ns per point, against 3.8 for 40, 5.4 for 38, 6.5 for 58; docs/nn.md), beyond them the
   smallest even size whose odd part is at most 9 */
static ptrdiff_t EstimateGoodSize(ptrdiff_t n)
{
  static const ptrdiff_t fast[] = {8, 12, 16, 20, 24, 28, 32, 36, 42, 48, 56, 64, 72, 80, 84, 100, 108, 112, 128};

  for (size_t j = 0; j < sizeof(fast) / sizeof(fast[0]); j++)
    if (fast[j] >= n) return fast[j];
  for (ptrdiff_t m = n + n % 2;; m += 2) {
    ptrdiff_t r = m;
    while (r % 2 == 0) r /= 2;
    if (r <= 9) return m;
  }
}

/* Tiles along one axis of O outputs: FFT size F = T + k − 1, T at least min(O, tile). */
void PdNNFftTileAxis(ptrdiff_t O, ptrdiff_t k, ptrdiff_t tile, ptrdiff_t *F, ptrdiff_t *T, ptrdiff_t *n)
{
  const ptrdiff_t need = PetscMin(O, tile) + k - 1;

  *F = fft_measure ? PdFFTGoodSize(need) : EstimateGoodSize(need);
  *T = *F - k + 1;
  *n = (O + *T - 1) / *T;
}

/* Real operations of the path for an output of n × OH × OW: the GEMMs' (8 per complex
   multiply-add) and the transforms' (2.5·N·log2(N) per real transform of N points). */
void PdNNConvFftFlops(const PdNNLayer *L, PetscInt n, PetscInt OH, PetscInt OW, double *gemm, double *transforms)
{
  ptrdiff_t Fy, Fx, Ty, Tx, ny, nx;
  double    N, tiles;

  PdNNFftTileAxis(OH, L->k, PdNNFftTile(), &Fy, &Ty, &ny);
  PdNNFftTileAxis(OW, L->k, PdNNFftTile(), &Fx, &Tx, &nx);
  N           = (double)(Fy * Fx);
  tiles       = (double)(n * ny * nx);
  *gemm       = tiles * 8.0 * (double)(Fy * (Fx / 2 + 1)) * L->cin * L->cout;
  *transforms = tiles * 2.5 * N * PetscLog2Real(N) * (L->cin + L->cout);
}
