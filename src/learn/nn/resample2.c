/* Max-pooling 2 and nearest-neighbour upsampling ×2 (in y, x, and z for 3D networks).

     MaxPool2    y[z,y,x] = max over the block B(z,y,x) = {(2z+a, 2y+b, 2x+c)} of x     (odd sizes
                 rounded down: the last plane, row or column is dropped)
                 dL/dx[q] = g[z,y,x] at q = the first maximum of B in raster order (a, b, c),
                 0 elsewhere; the arg-max is found again from the kept input.
     Upsample2   y[2z+a, 2y+b, 2x+c] = x[z,y,x]          dL/dx[z,y,x] = Σ_B g

   Upsample2's backward is the adjoint of its forward; so is MaxPool2's at a fixed arg-max. */
#include "learn/nn/nn_impl.h"
#include <string.h>

static PetscErrorCode PoolShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  (void)L;
  (void)skip;
  out[0] = in[0];
  out[1] = in[1];
  out[2] = dims == 3 ? in[2] / 2 : 1;
  out[3] = in[3] / 2;
  out[4] = in[4] / 2;
  return 0;
}

static PetscErrorCode UpsampleShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  (void)L;
  (void)skip;
  out[0] = in[0];
  out[1] = in[1];
  out[2] = dims == 3 ? 2 * in[2] : 1;
  out[3] = 2 * in[3];
  out[4] = 2 * in[4];
  return 0;
}

/* The index (within a plane of the fine grid f) of the first maximum of block (z, y, x). */
static inline ptrdiff_t ArgMax(const float *f, const PdTensor *fine, ptrdiff_t bz, ptrdiff_t z, ptrdiff_t y, ptrdiff_t x)
{
  ptrdiff_t best = ((bz * z) * fine->h + 2 * y) * fine->w + 2 * x;
  for (ptrdiff_t a = 0; a < bz; a++)
    for (ptrdiff_t b = 0; b < 2; b++)
      for (ptrdiff_t c = 0; c < 2; c++) {
        const ptrdiff_t q = ((bz * z + a) * fine->h + 2 * y + b) * fine->w + 2 * x + c;
        if (f[q] > f[best]) best = q;
      }
  return best;
}

/* Forward: y = the block maxima. Backward: dL/dx (= or +=) g routed to the arg-maxima. */
static PetscErrorCode Pool(const PdNNLayer *L, PdNNArgs *a, PetscBool backward)
{
  const PdTensor *in = a->in, *out = a->out;
  const ptrdiff_t planes = in->n * in->c, Mi = PdTensorSpatial(in), Mo = PdTensorSpatial(out), bz = a->dims == 3 ? 2 : 1;

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
          const ptrdiff_t m = ArgMax(f, in, bz, z, y, x);
          if (backward) o[m] += g[q];
          else o[q] = f[m];
        }
  }
  return 0;
}

static PetscErrorCode PoolForward(const PdNNLayer *L, PdNNArgs *a) { return Pool(L, a, PETSC_FALSE); }
static PetscErrorCode PoolBackward(const PdNNLayer *L, PdNNArgs *a) { return Pool(L, a, PETSC_TRUE); }

static PetscErrorCode UpsampleForward(const PdNNLayer *L, PdNNArgs *a)
{
  const PdTensor *in = a->in, *out = a->out;
  const ptrdiff_t planes = in->n * in->c, Mi = PdTensorSpatial(in), Mo = PdTensorSpatial(out);

  (void)L;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t p = 0; p < planes; p++) {
    const float *f = in->v + p * Mi;
    float       *o = out->v + p * Mo;
    for (ptrdiff_t z = 0; z < out->d; z++)
      for (ptrdiff_t y = 0; y < out->h; y++) {
        const float *row = f + ((z * in->d / out->d) * in->h + y / 2) * in->w;
        float       *orow = o + (z * out->h + y) * out->w;
        for (ptrdiff_t x = 0; x < out->w; x++) orow[x] = row[x >> 1];
      }
  }
  return 0;
}

static PetscErrorCode UpsampleBackward(const PdNNLayer *L, PdNNArgs *a)
{
  const PdTensor *in = a->in, *out = a->out;
  const ptrdiff_t planes = in->n * in->c, Mi = PdTensorSpatial(in), Mo = PdTensorSpatial(out), bz = a->dims == 3 ? 2 : 1;

  (void)L;
  if (!a->gin) return 0;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t p = 0; p < planes; p++) {
    const float *g = a->gout->v + p * Mo;
    float       *gx = a->gin->v + p * Mi;
    for (ptrdiff_t z = 0, q = 0; z < in->d; z++)
      for (ptrdiff_t y = 0; y < in->h; y++)
        for (ptrdiff_t x = 0; x < in->w; x++, q++) {
          float s = 0;
          for (ptrdiff_t dz = 0; dz < bz; dz++)
            for (ptrdiff_t b = 0; b < 2; b++) {
              const float *r = g + ((bz * z + dz) * out->h + 2 * y + b) * out->w + 2 * x;
              s += r[0] + r[1];
            }
          gx[q] = a->add_in ? gx[q] + s : s;
        }
  }
  return 0;
}

const PdNNLayerOps PdNNMaxPool2Ops  = {PoolShape, PoolForward, PoolBackward};
const PdNNLayerOps PdNNUpsample2Ops = {UpsampleShape, UpsampleForward, UpsampleBackward};
