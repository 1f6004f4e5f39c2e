/* GARL: Richardson-Lucy with Nesterov extrapolation and a learned weakly-convex ridge regulariser
   (pyxudeconv's "Goujon accelerated RL", docs/methods/garl.md §1-§2; the regulariser R is
   pdecon/learn/wcrr.h). It minimises

     KL(y ‖ H x + b) + λ s R(T x / s; σ),   x >= 0,

   s = max(y) (1 when the data are all zero), T the trim to the measured box, with the RRL
   iteration of rl_smoothtv (src/methods/rl_smoothtv.c) and ∇R in place of ∇TV:

     t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2,  a_k = (t_k - 1) / t_{k+1},  t_0 = 1
     p_k     = max( x_k + a_k (x_k - x_{k-1}), lb )
     x_{k+1} = max( p_k · ( Hᵀ(M y / (H p_k + b)) - λ Tᵀ ∇R(T p_k / s; σ) ) / Hᵀ1,  lb )

   lb = 1e-6 s. Scale: pyxudeconv divides the data by s first and iterates on x' = x / s; R was
   trained on [0, 1]-scaled volumes and σ is in units of 1/255 of that range. Hᵀ(y / (Hx + b)) is
   invariant under y, b, x -> c y, c b, c x, and ∇R(x') = ∇R(x / s) is a gradient in normalised
   units, so the update above, with ∇R evaluated at p / s and used unscaled in the numerator, is
   pyxudeconv's iteration multiplied by s: the same λ and σ give the same (scaled) result on data
   in photons, in camera units or normalised to 1. With λ = 0 it is rl_smoothtv with λ = 0 bit
   for bit.

   ∇R acts on the measured box only, with zero boundary at its edges (docs/methods/garl.md §1); in the padding the
   update is plain RL, and voxels with w = 0 stay 0. Distributed evaluation (PdGARLGradient): ∇R
   has a receptive field of radius 6 voxels (three 3×3×3 layers forward, three adjoint). Each rank
   takes its box planes with 6 ghost planes each way (PdHaloExchange, zero outside the box), scaled
   by 1/s, and evaluates R on the block of planes [max(0, z0 - 6), min(nz, z0 + nzl + 6)): the
   block's zero padding coincides with the box's own boundary at the box edges, and interior block
   edges lie 6 planes from every kept plane, so the kept planes are those of a whole-box evaluation
   on any number of ranks. A block larger than -decon_garl_block voxels is split the same way into
   z and y tiles with 6-voxel margins, which bounds the regulariser's workspace.

   The objective is KL(y ‖ H p + b) + λ s R(T p / s; σ) at the extrapolated point: each tile
   contributes the part of R from the voxels it keeps (PdWCRRGradientRegion), so the value is that
   of the whole box on any number of ranks. The iteration itself is rrl.c's, shared with
   rl_smoothtv.

   Cost per iteration: one PdRLCorrection (2 forward + 2 inverse FFTs, one ratio pass), one halo
   exchange of 6 planes each way, one regulariser gradient on the box (29 592 multiply-adds per
   voxel for the default 4-8-64 channels, plus the recomputed tile margins) and one fused update
   pass (plus the extrapolation pass). Working-size float volumes per rank: x, w, the FFT buffer,
   the gradient ∇R (working layout, zero outside the box), x_{k-1}, and the scaled box slab with
   its ghost planes: 6 (5 without extrapolation); plus the OTF, the data, and the tile buffers
   and regulariser workspace, bounded by the block size. */
#include "decon/decon_impl.h"
#include <pdecon/methods/garl.h>
#include <pdecon/learn/wcrr_file.h>
#include <pdecon/ops/halo.h>
#include <math.h>
#include <string.h>

#define GARL_RADIUS        6       /* receptive field of ∇R: 3 layers of 3×3×3, forward and adjoint */
#define GARL_DEFAULT_BLOCK 4194304 /* voxels per regulariser call */

/* Buffers of the distributed gradient, kept between iterations. */
typedef struct {
  float *ext, *tin, *tout; /* scaled slab + ghosts (compact box planes), one tile in, one tile out */
  size_t next, ntin, ntout;
} GARLWork;

typedef struct {
  PdWCRR    model;
  PetscBool own_model;                     /* loaded from -decon_garl_model */
  char      model_path[PETSC_MAX_PATH_LEN]; /* "" = set by PdDeconGARLSetModel */
  double    lambda, sigma;
  PetscInt  block;
  /* state of the current solve */
  float    *g;   /* ∇R(T p / s) on the box, 0 elsewhere */
  PdRRL     rrl; /* the iteration (rrl.c): extrapolation, data scale s = max(y) */
  GARLWork  work;
} GARLCtx;

extern const PdMethodOps PdMethod_GARL;

/* ---------------------------------------------------------------------------------------------
   Distributed ∇R on the box */

static PetscErrorCode Reserve(float **p, size_t *have, size_t need)
{
  PetscFunctionBegin;
  if (need <= *have && *p) PetscFunctionReturn(0);
  PetscCall(PdVolumeFree(p));
  PetscCall(PdVolumeAlloc(need, p));
  *have = need;
  PetscFunctionReturn(0);
}

static PetscErrorCode WorkFree(GARLWork *w)
{
  PetscFunctionBegin;
  PetscCall(PdVolumeFree(&w->ext));
  PetscCall(PdVolumeFree(&w->tin));
  PetscCall(PdVolumeFree(&w->tout));
  w->next = w->ntin = w->ntout = 0;
  PetscFunctionReturn(0);
}

/* Tiles of this rank's nzl planes (global z0.., of nz) and the m1 rows: cz planes and cy rows kept
   per tile, chosen so that a tile with its margins has at most cap voxels where possible, with the
   least recomputed margin. One tile when the whole extended slab fits. */
static void ChooseTiles(ptrdiff_t z0, ptrdiff_t nzl, ptrdiff_t nz, ptrdiff_t m1, ptrdiff_t m2, ptrdiff_t cap, ptrdiff_t *cz, ptrdiff_t *cy)
{
  const ptrdiff_t R = GARL_RADIUS, ez = PetscMin(nz, z0 + nzl + R) - PetscMax(0, z0 - R);
  double          best = -1;

  *cz = nzl;
  *cy = m1;
  if (ez * m1 * m2 <= cap) return;
  *cz = 1;
  *cy = 1;
  for (ptrdiff_t ty = 1; ty <= m1; ty++) {
    const ptrdiff_t y  = (m1 + ty - 1) / ty, nty = (m1 + y - 1) / y;
    const ptrdiff_t by = nty > 1 ? PetscMin(m1, y + 2 * R) : m1;
    ptrdiff_t       z  = cap / (by * m2) - 2 * R, ntz;
    double          cost;
    if (z < 1) continue;
    z    = PetscMin(z, nzl);
    ntz  = (nzl + z - 1) / z;
    cost = (double)(nzl + 2 * R * ntz) * (double)(m1 + 2 * R * (nty - 1));
    if (best < 0 || cost < best) {
      best = cost;
      *cz  = z;
      *cy  = y;
    }
  }
}

/* g (lay's strides) = ∇R(u / s) on lay's slab; see PdGARLGradient. value (may be NULL): this
   rank's part of R(u / s), from the voxels it keeps (collective sum by the caller). */
static PetscErrorCode SlabGradient(PdWCRR m, double sigma, const PdLayout *lay, const float *u, double scale, PetscInt maxblock, GARLWork *w, float *g, double *value)
{
  const ptrdiff_t R = GARL_RADIUS, nz = lay->n[0], m1 = lay->n[1], m2 = lay->n[2], plane = m1 * m2;
  const ptrdiff_t z0 = lay->z0, nzl = lay->nzl, e0 = z0 - R; /* ext plane j is global plane e0 + j */
  const ptrdiff_t next = (nzl + 2 * R) * plane;
  const float     inv  = (float)(1.0 / scale);
  ptrdiff_t       cz, cy;

  PetscFunctionBegin;
  PetscCheck(scale > 0 && isfinite(scale), lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "regulariser input scale must be positive and finite (got %g)", scale);
  PetscCall(Reserve(&w->ext, &w->next, (size_t)PetscMax(1, next)));
  if (value) *value = 0;
  PetscCall(PdHaloExchange(lay, u, (int)R, PD_HALO_ZERO, w->ext)); /* collective: every rank */
  if (nzl == 0) PetscFunctionReturn(0);
  {
    float *restrict e = w->ext;
#pragma omp simd
    for (ptrdiff_t i = 0; i < next; i++) e[i] *= inv;
  }
  ChooseTiles(z0, nzl, nz, m1, m2, maxblock > 0 ? maxblock : GARL_DEFAULT_BLOCK, &cz, &cy);
  for (ptrdiff_t a = 0; a < nzl; a += cz) {
    const ptrdiff_t b = PetscMin(nzl, a + cz), zb0 = PetscMax(0, z0 + a - R), zb1 = PetscMin(nz, z0 + b + R), bz = zb1 - zb0;
    for (ptrdiff_t ya = 0; ya < m1; ya += cy) {
      const ptrdiff_t yb = PetscMin(m1, ya + cy), yb0 = PetscMax(0, ya - R), yb1 = PetscMin(m1, yb + R), by = yb1 - yb0;
      const ptrdiff_t bn[3] = {bz, by, m2};
      const float    *in;

      PetscCall(Reserve(&w->tout, &w->ntout, (size_t)(bz * by * m2)));
      if (by == m1) in = w->ext + (zb0 - e0) * plane; /* whole planes: contiguous in ext */
      else {
        PetscCall(Reserve(&w->tin, &w->ntin, (size_t)(bz * by * m2)));
        for (ptrdiff_t z = 0; z < bz; z++) PetscCall(PetscArraycpy(w->tin + z * by * m2, w->ext + (zb0 - e0 + z) * plane + yb0 * m2, by * m2));
        in = w->tin;
      }
      {
        const ptrdiff_t lo[3] = {z0 + a - zb0, ya - yb0, 0}, hi[3] = {z0 + b - zb0, yb - yb0, m2};
        double          part;
        PetscCall(PdWCRRGradientRegion(m, sigma, bn, in, w->tout, lo, hi, value ? &part : NULL));
        if (value) *value += part;
      }
      /* keep the planes and rows whose receptive field lies inside the block */
      for (ptrdiff_t z = z0 + a; z < z0 + b; z++)
        for (ptrdiff_t y = ya; y < yb; y++) PetscCall(PetscArraycpy(g + (z - z0) * lay->ps + y * lay->rs, w->tout + ((z - zb0) * by + (y - yb0)) * m2, m2));
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdGARLGradient(PdWCRR m, double sigma, const PdLayout *lay, const float *u, double scale, PetscInt maxblock, float *g)
{
  GARLWork w;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&w, sizeof(w)));
  PetscCall(SlabGradient(m, sigma, lay, u, scale, maxblock, &w, g, NULL));
  PetscCall(WorkFree(&w));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------
   The method */

static GARLCtx *GetCtx(PdDecon d) { return d->ops == &PdMethod_GARL ? (GARLCtx *)d->mctx : NULL; }

static PetscErrorCode GARLCreate(PdDecon d)
{
  GARLCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->lambda = 0.5;
  c->sigma  = 5.0;
  c->rrl.accel = PETSC_TRUE;
  c->block  = GARL_DEFAULT_BLOCK;
  d->mctx   = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode DropModel(GARLCtx *c)
{
  PetscFunctionBegin;
  if (c->own_model) PetscCall(PdWCRRDestroy(&c->model));
  c->model         = NULL;
  c->own_model     = PETSC_FALSE;
  c->model_path[0] = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGARLSetModel(PdDecon d, PdWCRR m)
{
  GARLCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no learned regulariser (garl has)", d->ops->name);
  if (m == c->model) PetscFunctionReturn(0);
  PetscCall(DropModel(c));
  c->model = m;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGARLSetLambda(PdDecon d, double lambda)
{
  GARLCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no learned-regulariser weight (garl has)", d->ops->name);
  PetscCheck(lambda >= 0 && isfinite(lambda), d->comm, PD_ERR_INPUT, "garl: lambda must be finite and >= 0 (got %g)", lambda);
  c->lambda = lambda;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGARLSetSigma(PdDecon d, double sigma)
{
  GARLCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no regulariser noise level sigma (garl has)", d->ops->name);
  PetscCheck(sigma >= 0 && isfinite(sigma), d->comm, PD_ERR_INPUT, "garl: sigma must be finite and >= 0, in units of 1/255 of the data range (got %g)", sigma);
  c->sigma = sigma;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGARLSetAcceleration(PdDecon d, PetscBool accel)
{
  GARLCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no GARL acceleration switch (garl has)", d->ops->name);
  c->rrl.accel = accel;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGARLSetBlockSize(PdDecon d, PetscInt voxels)
{
  GARLCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no regulariser block size (garl has)", d->ops->name);
  PetscCheck(voxels >= 1, d->comm, PD_ERR_INPUT, "garl: the regulariser block must hold at least one voxel (got %" PetscInt_FMT ")", voxels);
  c->block = voxels;
  PetscFunctionReturn(0);
}

static PetscErrorCode GARLSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  GARLCtx  *c = (GARLCtx *)d->mctx;
  char      path[PETSC_MAX_PATH_LEN];
  double    v;
  PetscInt  n;
  PetscBool b, set;

  PetscFunctionBegin;
  PetscCall(PetscOptionsString("-decon_garl_model", "Learned regulariser: a model file written by pdecon train (required)", "PdDeconGARLSetModel", c->model_path, path, sizeof(path), &set));
  if (set && strcmp(path, c->model_path)) {
    PdWCRR m;
    PetscCheck(path[0], d->comm, PD_ERR_INPUT, "-decon_garl_model needs a file name (a model written by pdecon train)");
    PetscCall(PdWCRRLoad(d->comm, path, &m));
    PetscCall(DropModel(c));
    c->model     = m;
    c->own_model = PETSC_TRUE;
    PetscCall(PetscStrncpy(c->model_path, path, sizeof(c->model_path)));
  }
  v = c->lambda;
  PetscCall(PetscOptionsReal("-decon_garl_lambda", "Weight lambda of the learned regulariser (scale-free)", "PdDeconGARLSetLambda", v, &v, &set));
  if (set) PetscCall(PdDeconGARLSetLambda(d, v));
  v = c->sigma;
  PetscCall(PetscOptionsReal("-decon_garl_sigma", "Noise level sigma of the regulariser, in units of 1/255 of the data range", "PdDeconGARLSetSigma", v, &v, &set));
  if (set) PetscCall(PdDeconGARLSetSigma(d, v));
  b = c->rrl.accel;
  PetscCall(PetscOptionsBool("-decon_garl_accel", "Nesterov extrapolation (as pyxudeconv)", "PdDeconGARLSetAcceleration", b, &b, &set));
  if (set) PetscCall(PdDeconGARLSetAcceleration(d, b));
  n = c->block;
  PetscCall(PetscOptionsInt("-decon_garl_block", "Voxels per regulariser evaluation (bounds its workspace; larger slabs are tiled)", "PdDeconGARLSetBlockSize", n, &n, &set));
  if (set) PetscCall(PdDeconGARLSetBlockSize(d, n));
  PetscFunctionReturn(0);
}

static PetscErrorCode GARLSetUp(PdDecon d)
{
  GARLCtx        *c   = (GARLCtx *)d->mctx;
  const ptrdiff_t cnt = PdDeconLocalCount(d);

  PetscFunctionBegin;
  PetscCheck(c->model, d->comm, PD_ERR_INPUT, "garl: no regulariser model: give -decon_garl_model FILE (a model written by pdecon train)");
  if (!c->g) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, cnt), &c->g)); /* zero outside the box for good */
  PetscCall(PdRRLSetUp(d, &c->rrl));
  PetscFunctionReturn(0);
}

/* Checkpoint state: the extrapolation (x_{k-1} and the Nesterov sequence). */
static PetscErrorCode GARLGetState(PdDecon d, PdMethodState *st)
{
  return PdRRLGetState(&((GARLCtx *)d->mctx)->rrl, st);
}

/* Φ(p) = s R(T p / s; σ), ∇Φ = Tᵀ ∇R(T p / s; σ) (rrl.c's gradient callback) */
static PetscErrorCode GARLGradient(PdDecon d, const float *p, float *g, double *value)
{
  GARLCtx *c = (GARLCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(SlabGradient(c->model, c->sigma, d->blay, p, c->rrl.scale, c->block, &c->work, g, value));
  if (value) {
    PetscCall(PdAllreduceSum(d->comm, value, 1));
    *value *= c->rrl.scale;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode GARLStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  GARLCtx *c = (GARLCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PdRRLStep(d, &c->rrl, c->lambda, GARLGradient, c->g, want_obj, obj, change));
  PetscFunctionReturn(0);
}

static PetscErrorCode GARLView(PdDecon d, PetscViewer v)
{
  GARLCtx *c = (GARLCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "GARL (pyxudeconv): lambda %g, sigma %g (/255 of the data range), iterate floor 1e-6 x max(y), Nesterov extrapolation %s\n", c->lambda, c->sigma,
                                   c->rrl.accel ? "on" : "off"));
  if (c->model) {
    PetscInt ch[3];
    double   mu, beta, gam, L;
    PetscCall(PdWCRRGetChannels(c->model, ch));
    PetscCall(PdWCRRGetPotential(c->model, &mu, &beta, &gam, &L));
    PetscCall(PetscViewerASCIIPrintf(v, "learned regulariser %s: channels 1-%" PetscInt_FMT "-%" PetscInt_FMT "-%" PetscInt_FMT ", mu %g, beta %g, gamma %g; blocks of at most %" PetscInt_FMT " voxels\n",
                                     c->model_path[0] ? c->model_path : "(set by the program)", ch[0], ch[1], ch[2], mu, beta, gam, c->block));
  } else PetscCall(PetscViewerASCIIPrintf(v, "no learned regulariser yet (-decon_garl_model FILE)\n"));
  PetscFunctionReturn(0);
}

/* The memory planner's share: the scaled box slab with its ghost planes, one tile in and out and
   the regulariser's workspace for the largest tile (ChooseTiles' choice for these planes). */
static PetscErrorCode GARLWorkspace(PdDecon d, const ptrdiff_t n[3], ptrdiff_t z0, ptrdiff_t nzl, double *bytes)
{
  GARLCtx        *c   = (GARLCtx *)d->mctx;
  const ptrdiff_t R   = GARL_RADIUS, m0 = d->m[0], m1 = d->m[1], m2 = d->m[2];
  const ptrdiff_t bnz = PetscMax(0, PetscMin(z0 + nzl, m0) - z0);
  ptrdiff_t       cz, cy, tn[3];
  double          wb;

  PetscFunctionBegin;
  (void)n;
  *bytes = 0;
  if (!c->model || bnz == 0) PetscFunctionReturn(0);
  ChooseTiles(z0, bnz, m0, m1, m2, c->block, &cz, &cy);
  tn[0] = PetscMin(PetscMin(m0, z0 + bnz + R) - PetscMax(0, z0 - R), cz + 2 * R); /* the box edges need no margin */
  tn[1] = cy < m1 ? PetscMin(m1, cy + 2 * R) : m1;
  tn[2] = m2;
  PetscCall(PdWCRRGradientBytes(c->model, tn, &wb));
  *bytes = 4.0 * (double)((bnz + 2 * R) * m1 * m2 + 2 * tn[0] * tn[1] * tn[2]) + wb;
  PetscFunctionReturn(0);
}

static PetscErrorCode GARLDestroy(PdDecon d)
{
  GARLCtx *c = (GARLCtx *)d->mctx;

  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(0);
  PetscCall(DropModel(c));
  PetscCall(PdVolumeFree(&c->g));
  PetscCall(PdRRLDestroy(&c->rrl));
  PetscCall(WorkFree(&c->work));
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_GARL = {.name = "garl", .description = "accelerated RL with a learned regulariser (pyxudeconv GARL)", .nvolumes = 6, .direct = PETSC_FALSE,
                                   .create = GARLCreate, .setfromoptions = GARLSetFromOptions, .setup = GARLSetUp, .step = GARLStep, .view = GARLView, .destroy = GARLDestroy, .getstate = GARLGetState,
                                   .workspace = GARLWorkspace};
