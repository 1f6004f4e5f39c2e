/* Instance normalisation, affine = False (PyTorch's defaults): for each sample and channel, over
   its M voxels,

     μ = (1/M) Σ x,   σ² = (1/M) Σ (x − μ)²  (biased),   y = (x − μ) / sqrt(σ² + ε),  ε = 1e−5

   with no running statistics (training and inference both use the current input's). Backward,
   g = dL/dy:

     dL/dx = (1/sqrt(σ² + ε)) · (g − mean(g) − y · mean(g·y))

   The statistics are sums in double; backward recomputes 1/sqrt(σ² + ε) from the kept input. */
#include "learn/nn/nn_impl.h"
#include <math.h>

#define IN_EPS 1e-5

static void Moments(const float *x, ptrdiff_t M, double *mu, double *rstd)
{
  double s = 0, v = 0;
  for (ptrdiff_t q = 0; q < M; q++) s += x[q];
  *mu = s / (double)M;
  for (ptrdiff_t q = 0; q < M; q++) v += (x[q] - *mu) * (x[q] - *mu);
  *rstd = 1.0 / sqrt(v / (double)M + IN_EPS);
}

static PetscErrorCode NormForward(const PdNNLayer *L, PdNNArgs *a)
{
  const ptrdiff_t planes = a->in->n * a->in->c, M = PdTensorSpatial(a->in);

  (void)L;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t p = 0; p < planes; p++) {
    const float *x = a->in->v + p * M;
    float       *y = a->out->v + p * M;
    double       mu, rstd;
    Moments(x, M, &mu, &rstd);
    for (ptrdiff_t q = 0; q < M; q++) y[q] = (float)((x[q] - mu) * rstd);
  }
  return 0;
}

static PetscErrorCode NormBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const ptrdiff_t planes = a->in->n * a->in->c, M = PdTensorSpatial(a->in);

  (void)L;
  if (!a->gin) return 0;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t p = 0; p < planes; p++) {
    const float *x = a->in->v + p * M, *y = a->out->v + p * M, *g = a->gout->v + p * M;
    float       *gx = a->gin->v + p * M;
    double       mu, rstd, mg = 0, mgy = 0;
    Moments(x, M, &mu, &rstd);
    for (ptrdiff_t q = 0; q < M; q++) {
      mg += g[q];
      mgy += (double)g[q] * y[q];
    }
    mg /= (double)M;
    mgy /= (double)M;
    for (ptrdiff_t q = 0; q < M; q++) {
      const float v = (float)(rstd * (g[q] - mg - y[q] * mgy));
      gx[q] = a->add_in ? gx[q] + v : v;
    }
  }
  return 0;
}

const PdNNLayerOps PdNNInstanceNormOps = {PdNNSameShape, NormForward, NormBackward};
