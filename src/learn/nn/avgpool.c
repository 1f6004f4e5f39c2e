/* Average pooling 3, stride 2, padding 1, padded values not counted (PyTorch's
   AvgPool3d(3, 2, 1, count_include_pad=False)); in y, x, and z for 3D networks. The downsampling
   between the scales of a multi-scale PatchGAN discriminator (pix2pixHD's recipe).

     y[z,y,x] = (1/|B|) Σ_{q ∈ B(z,y,x)} x[q],   B = the voxels of {2z−1 … 2z+1} × {2y−1 … 2y+1}
                × {2x−1 … 2x+1} inside the volume; output size ⌊(n − 1)/2⌋ + 1 per pooled axis
     dL/dx[q] = Σ_{blocks B ∋ q} g[B] / |B|       (the adjoint of the forward map) */
#include "learn/nn/nn_impl.h"
#include <string.h>

static PetscErrorCode AvgPoolShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  (void)L;
  (void)skip;
  out[0] = in[0];
  out[1] = in[1];
  out[2] = dims == 3 ? (in[2] - 1) / 2 + 1 : 1;
  out[3] = (in[3] - 1) / 2 + 1;
  out[4] = (in[4] - 1) / 2 + 1;
  return 0;
}

/* The window [lo, hi) of output index o along an axis of n voxels (pooled: 2o−1 … 2o+1). */
static inline void Window(ptrdiff_t o, ptrdiff_t n, PetscBool pooled, ptrdiff_t *lo, ptrdiff_t *hi)
{
  *lo = pooled ? PetscMax(2 * o - 1, 0) : o;
  *hi = pooled ? PetscMin(2 * o + 2, n) : o + 1;
}

/* Forward: y = block means. Backward: each g[B]/|B| spread over its block (= or + into dL/dx). */
static PetscErrorCode AvgPool(const PdNNLayer *L, PdNNArgs *a, PetscBool backward)
{
  const PdTensor *in = a->in, *out = a->out;
  const ptrdiff_t planes = in->n * in->c, Mi = PdTensorSpatial(in), Mo = PdTensorSpatial(out);
  const PetscBool pz = (PetscBool)(a->dims == 3);

  (void)L;
  if (backward && !a->gin) return 0;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t p = 0; p < planes; p++) {
    const float *f = in->v + p * Mi, *g = backward ? a->gout->v + p * Mo : NULL;
    float       *o = backward ? a->gin->v + p * Mi : out->v + p * Mo;
    if (backward && !a->add_in) memset(o, 0, (size_t)Mi * sizeof(float));
    for (ptrdiff_t z = 0, q = 0; z < out->d; z++)
      for (ptrdiff_t y = 0; y < out->h; y++)
        for (ptrdiff_t x = 0; x < out->w; x++, q++) {
          ptrdiff_t z0, z1, y0, y1, x0, x1;
          Window(z, in->d, pz, &z0, &z1);
          Window(y, in->h, PETSC_TRUE, &y0, &y1);
          Window(x, in->w, PETSC_TRUE, &x0, &x1);
          const float inv = 1.0f / (float)((z1 - z0) * (y1 - y0) * (x1 - x0));
          float       s   = 0;
          for (ptrdiff_t k = z0; k < z1; k++)
            for (ptrdiff_t j = y0; j < y1; j++)
              for (ptrdiff_t i = x0; i < x1; i++) {
                const ptrdiff_t m = (k * in->h + j) * in->w + i;
                if (backward) o[m] += g[q] * inv;
                else s += f[m];
              }
          if (!backward) o[q] = s * inv;
        }
  }
  return 0;
}

static PetscErrorCode AvgPoolForward(const PdNNLayer *L, PdNNArgs *a) { return AvgPool(L, a, PETSC_FALSE); }
static PetscErrorCode AvgPoolBackward(const PdNNLayer *L, PdNNArgs *a) { return AvgPool(L, a, PETSC_TRUE); }

const PdNNLayerOps PdNNAvgPool3Ops = {AvgPoolShape, AvgPoolForward, AvgPoolBackward};
