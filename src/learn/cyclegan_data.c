/* Training volumes and their random crops for the cycleGAN and the supervised U-Net
   (cyclegan_data.h). */
#include <pdecon/learn/cyclegan_data.h>
#include <pdecon/learn/cnn_data.h>
#include <pdecon/core/random.h>
#include <pdecon/core/fingerprint.h>

typedef struct {
  ptrdiff_t n[3];
  float    *v;
} Volume;

struct _p_PdGANData {
  unsigned long long seed;
  PetscInt           count[2], cap[2];
  Volume            *vol[2];
};

PetscErrorCode PdGANDataCreate(unsigned long long seed, PdGANData *d)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(d));
  (*d)->seed = seed;
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANDataDestroy(PdGANData *d)
{
  PetscFunctionBegin;
  if (!*d) PetscFunctionReturn(0);
  for (int k = 0; k < 2; k++) {
    for (PetscInt i = 0; i < (*d)->count[k]; i++) PetscCall(PetscFree((*d)->vol[k][i].v));
    PetscCall(PetscFree((*d)->vol[k]));
  }
  PetscCall(PetscFree(*d));
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANNormalize(ptrdiff_t N, float *v, double *lo, double *hi)
{
  const double q[2] = {PD_GAN_NORM_LO, PD_GAN_NORM_HI};
  double       p[2], s;

  PetscFunctionBegin;
  PetscCall(PdCNNPercentiles(N, v, 2, q, p));
  s = p[1] > p[0] ? 1.0 / (p[1] - p[0]) : 1.0;
  for (ptrdiff_t i = 0; i < N; i++) v[i] = (float)PetscMin(1.0, PetscMax(0.0, (v[i] - p[0]) * s));
  if (lo) *lo = p[0];
  if (hi) *hi = p[1];
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANDataAdd(PdGANData d, PetscInt domain, const ptrdiff_t n[3], const float *v)
{
  Volume         *vol;
  const ptrdiff_t N = n[0] * n[1] * n[2];

  PetscFunctionBegin;
  PetscCheck(domain == 0 || domain == 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "domain 0 or 1");
  if (d->count[domain] == d->cap[domain]) {
    Volume *nv;
    d->cap[domain] = PetscMax(8, 2 * d->cap[domain]);
    PetscCall(PetscMalloc1(d->cap[domain], &nv));
    if (d->count[domain]) PetscCall(PetscArraycpy(nv, d->vol[domain], d->count[domain]));
    PetscCall(PetscFree(d->vol[domain]));
    d->vol[domain] = nv;
  }
  vol = &d->vol[domain][d->count[domain]++];
  for (int k = 0; k < 3; k++) vol->n[k] = n[k];
  PetscCall(PetscMalloc1(N, &vol->v));
  PetscCall(PetscArraycpy(vol->v, v, N));
  PetscCall(PdGANNormalize(N, vol->v, NULL, NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANDataGetCount(PdGANData d, PetscInt domain, PetscInt *count)
{
  *count = d->count[domain];
  return 0;
}

PetscErrorCode PdGANDataHash(PdGANData d, unsigned long long *h)
{
  PetscFunctionBegin;
  PdHashBytes(h, &d->seed, sizeof(d->seed));
  for (int k = 0; k < 2; k++)
    for (PetscInt i = 0; i < d->count[k]; i++) {
      const Volume *V = &d->vol[k][i];
      PdHashBytes(h, V->n, sizeof(V->n));
      PdHashBytes(h, V->v, sizeof(float) * (size_t)(V->n[0] * V->n[1] * V->n[2]));
    }
  PetscFunctionReturn(0);
}

/* The crop at (z0, y0, x0) of side p, turned by rot quarter turns in (y, x), flipped as fy, fx. */
static void Crop(const Volume *vol, ptrdiff_t z0, ptrdiff_t y0, ptrdiff_t x0, PetscInt p, int rot, int fy, int fx, float *out)
{
  for (PetscInt z = 0; z < p; z++)
    for (PetscInt y = 0; y < p; y++)
      for (PetscInt x = 0; x < p; x++) {
        PetscInt sy = fy ? p - 1 - y : y, sx = fx ? p - 1 - x : x, t;
        for (int r = 0; r < rot; r++) { /* (y, x) ↦ (x, p−1−y) */
          t  = sy;
          sy = sx;
          sx = p - 1 - t;
        }
        out[(z * p + y) * p + x] = vol->v[((z0 + z) * vol->n[1] + y0 + sy) * vol->n[2] + x0 + sx];
      }
}

static PetscErrorCode Draw(PdGANData d, PetscInt domain, unsigned long long stream, unsigned long long item, PetscInt p, PetscInt pick, float *out0, float *out1)
{
  PdRandStream r = PdRandStreamCreate(d->seed ^ stream, item);
  PetscInt     k;
  const Volume *vol;
  ptrdiff_t     o[3];
  int           rot, fy, fx;

  PetscFunctionBegin;
  PetscCheck(d->count[domain] > 0, PETSC_COMM_SELF, PETSC_ERR_ORDER, "no training volumes of domain %" PetscInt_FMT, domain);
  k   = pick >= 0 ? pick : PetscMin((PetscInt)(PdRandUniform(&r) * (double)d->count[domain]), d->count[domain] - 1);
  vol = &d->vol[domain][k];
  for (int a = 0; a < 3; a++) {
    PetscCheck(vol->n[a] >= p, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "a training volume (%td x %td x %td) is smaller than the patch side %" PetscInt_FMT, vol->n[0], vol->n[1], vol->n[2], p);
    o[a] = PetscMin((ptrdiff_t)(PdRandUniform(&r) * (double)(vol->n[a] - p + 1)), vol->n[a] - p);
  }
  rot = (int)(PdRandUniform(&r) * 4) & 3;
  fy  = PdRandUniform(&r) < 0.5;
  fx  = PdRandUniform(&r) < 0.5;
  if (out0) Crop(vol, o[0], o[1], o[2], p, rot, fy, fx, out0);
  if (out1) {
    const Volume *v1 = &d->vol[1][k];
    PetscCheck(v1->n[0] == vol->n[0] && v1->n[1] == vol->n[1] && v1->n[2] == vol->n[2], PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "paired training volumes of different sizes");
    Crop(v1, o[0], o[1], o[2], p, rot, fy, fx, out1);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANDataDraw(PdGANData d, PetscInt domain, unsigned long long item, PetscInt p, float *out)
{
  return Draw(d, domain, 0x5851f42d4c957f2dULL * (unsigned long long)(domain + 1), item, p, -1, out, NULL);
}

PetscErrorCode PdGANDataDrawPaired(PdGANData d, unsigned long long item, PetscInt p, float *x, float *y)
{
  PdRandStream r = PdRandStreamCreate(d->seed ^ 0x2545F4914F6CDD1DULL, item);
  PetscInt     k;

  PetscFunctionBegin;
  PetscCheck(d->count[0] > 0 && d->count[0] == d->count[1], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "supervised training needs as many blurred volumes as sharp ones");
  k = PetscMin((PetscInt)(PdRandUniform(&r) * (double)d->count[0]), d->count[0] - 1);
  PetscCall(Draw(d, 0, 0x2545F4914F6CDD1DULL, item, p, k, x, NULL));
  if (y) {
    /* the same crop and turn of pair k's blurred volume */
    PetscCall(Draw(d, 0, 0x2545F4914F6CDD1DULL, item, p, k, NULL, y));
  }
  PetscFunctionReturn(0);
}
