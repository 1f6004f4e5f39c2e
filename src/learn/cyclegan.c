/* The cycleGAN with a linear blur kernel: one data-parallel training step (cyclegan.h).

   Generator step, per local sample (D frozen: their backward passes give dL/dinput only):
     x̂ = G(y) [work A],  y_cyc = h ⊛ x̂,  ỹ = h ⊛ x,  x_cyc = G(ỹ) [work B]
     g_xcyc = γ sign(x_cyc − x)/M,  g_ycyc = γ sign(y_cyc − y)/M
     g_ỹ   = Gᵀ_B g_xcyc + ∂LS_ms(D_Y, ỹ, 1)/∂ỹ          → ∂/∂h += g_ỹ ⋆ x
     g_x̂   = Hᵀ g_ycyc + ∂LS_ms(D_X, x̂, 1)/∂x̂            → ∂/∂h += g_ycyc ⋆ x̂
     G's parameter gradients from both works (B then A).
   All terms carry the factor 1/B of the global batch; then one allreduce over [G, h] and Adam.
   Discriminator step on the fakes of the same forward pass (before G's update, detached) through
   the history buffers; one allreduce over all discriminators, then Adam. */
#include <pdecon/learn/cyclegan.h>
#include <pdecon/learn/cyclegan_nets.h>
#include <pdecon/learn/blur_fft.h>
#include <pdecon/core/random.h>
#include <pdecon/core/sys.h>
#include <pdecon/io/io.h>
#include <string.h>

typedef struct {
  PetscInt     cap, count;
  float       *v;   /* cap volumes */
  PdRandStream rng; /* rank-local */
} HistoryPool;

struct _p_PdCycleGAN {
  MPI_Comm           comm;
  PdCycleGANSettings s;
  PetscInt           M, nk, ndom;            /* voxels per patch, kernel values, D domains */
  PdNN               G, D[2][PD_CYCLEGAN_MAX_SCALES];
  PdNNWork           wA, wB;
  PdBlurFFT          blur;
  float             *h, *dh;
  PdAdam             adamG, adamH, adamD[2][PD_CYCLEGAN_MAX_SCALES];
  float             *flat;                   /* packed gradients for the allreduces */
  PetscInt           ngen, ndisc;
  HistoryPool        pool[2];                /* volumes in one buffer, pool[0].v: X, then Y */
  float             *fakes[2];               /* this step's fakes, nfake volumes each */
  PetscInt           nfake;
  float             *ycyc, *ytil, *gx, *gy, *gt, *tgt, *gz; /* patch temporaries; D map buffers */
  PetscInt           nmap;
};

static PetscLogEvent EV_GEN, EV_DISC, EV_ALLREDUCE, EV_BLUR;

void PdCycleGANSettingsDefault(PdCycleGANSettings *s)
{
  s->depth    = 2;
  s->width    = 64;
  s->dwidth   = 64;
  s->scales   = 3;
  s->k        = 31;
  s->patch    = 64;
  s->pool     = 50;
  s->blind    = PETSC_FALSE;
  s->use_dy   = PETSC_TRUE;
  s->project  = PETSC_TRUE;
  s->gamma    = 10;
  s->lr       = 1e-4;
  s->beta1    = 0.5;
  s->beta2    = 0.999;
  s->init_sz  = 3;
  s->init_sxy = 1.5;
  s->seed     = 20200801;
}

static PetscErrorCode NewAdam(const PdCycleGANSettings *s, PetscInt n, PdAdam *a)
{
  PetscFunctionBegin;
  PetscCall(PdAdamCreate(n, a));
  PetscCall(PdAdamSetHyperParameters(*a, s->beta1, s->beta2, 1e-8, PD_ADAM_PYTORCH));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCycleGANCreate(MPI_Comm comm, const PdCycleGANSettings *s, const float *psf, PdCycleGAN *out)
{
  PdCycleGAN     g;
  const PetscInt P = s->patch, n3[3] = {s->patch, s->patch, s->patch};
  PetscInt       np, in[5] = {1, 1, P, P, P}, o[5];
  float         *th;
  int            rank;

  PetscFunctionBegin;
  if (!EV_GEN) {
    PetscCall(PetscLogEventRegister("GANGenerator", PD_CLASSID, &EV_GEN));
    PetscCall(PetscLogEventRegister("GANDiscrim", PD_CLASSID, &EV_DISC));
    PetscCall(PetscLogEventRegister("GANAllreduce", PD_CLASSID, &EV_ALLREDUCE));
    PetscCall(PetscLogEventRegister("GANBlurFFT", PD_CLASSID, &EV_BLUR));
  }
  PetscCheck(s->scales >= 1 && s->scales <= PD_CYCLEGAN_MAX_SCALES, comm, PETSC_ERR_ARG_OUTOFRANGE, "-cyclegan_scales %" PetscInt_FMT ": 1, 2 or 3", s->scales);
  PetscCheck(P > 0 && P % (1 << s->depth) == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-cyclegan_patch %" PetscInt_FMT ": must be a positive multiple of %d (2^depth)", P, 1 << s->depth);
  PetscCheck(s->blind || psf, comm, PETSC_ERR_ARG_WRONG, "-cyclegan_blind false: needs a PSF");
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscNew(&g));
  g->comm = comm;
  g->s    = *s;
  g->M    = P * P * P;
  g->nk   = s->k * s->k * s->k;
  g->ndom = s->blind || s->use_dy ? 2 : 1;
  PetscCall(PdUNet3DCreate(s->depth, s->width, s->seed, &g->G));
  PetscCall(PdNNWorkCreate(g->G, &g->wA));
  PetscCall(PdNNWorkCreate(g->G, &g->wB));
  PetscCall(PdNNGetParams(g->G, &th, &g->ngen));
  PetscCall(NewAdam(s, g->ngen, &g->adamG));
  PetscCall(NewAdam(s, g->nk, &g->adamH));
  g->ngen += g->nk;
  for (PetscInt d = 0; d < g->ndom; d++)
    for (PetscInt sc = 0; sc < s->scales; sc++) {
      PetscCall(PdPatchGAN3DCreate(sc + 1, s->dwidth, s->seed + 1 + (unsigned long long)(d * PD_CYCLEGAN_MAX_SCALES + sc), &g->D[d][sc]));
      PetscCall(PdNNGetParams(g->D[d][sc], &th, &np));
      PetscCall(NewAdam(s, np, &g->adamD[d][sc]));
      g->ndisc += np;
      PetscCall(PdNNGetOutputShape(g->D[d][sc], in, o));
      g->nmap = PetscMax(g->nmap, o[2] * o[3] * o[4]);
    }
  PetscCall(PetscMalloc2(g->nk, &g->h, g->nk, &g->dh));
  if (s->blind) PetscCall(PdBlurGaussianKernel(s->k, s->init_sz, s->init_sxy, g->h));
  else {
    double sum = 0;
    for (PetscInt i = 0; i < g->nk; i++) sum += psf[i];
    PetscCheck(sum > 0, comm, PETSC_ERR_ARG_WRONG, "PSF: its sum is not positive");
    for (PetscInt i = 0; i < g->nk; i++) g->h[i] = (float)(psf[i] / sum);
  }
  PetscCall(PdBlurFFTCreate(s->k, n3, &g->blur));
  PetscCall(PdBlurFFTSetKernel(g->blur, g->h));
  PetscCall(PetscMalloc1(PetscMax(g->ngen, g->ndisc), &g->flat));
  PetscCall(PetscMalloc5(g->M, &g->ycyc, g->M, &g->ytil, g->M, &g->gx, g->M, &g->gy, g->M, &g->gt));
  PetscCall(PetscMalloc2(g->nmap, &g->tgt, g->nmap, &g->gz));
  /* zeroed: a checkpoint writes the slots not yet filled too */
  PetscCall(PetscCalloc1(2 * (size_t)s->pool * (size_t)g->M, &g->pool[0].v));
  for (PetscInt d = 0; d < 2; d++) {
    g->pool[d].cap = s->pool;
    g->pool[d].rng = PdRandStreamCreate(s->seed ^ 0x9e3779b97f4a7c15ULL, (unsigned long long)(2 * rank + d));
    g->pool[d].v   = g->pool[0].v + (size_t)d * (size_t)s->pool * (size_t)g->M;
  }
  *out = g;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCycleGANDestroy(PdCycleGAN *gp)
{
  PdCycleGAN g = *gp;

  PetscFunctionBegin;
  if (!g) PetscFunctionReturn(0);
  PetscCall(PdNNWorkDestroy(&g->wA));
  PetscCall(PdNNWorkDestroy(&g->wB));
  PetscCall(PdNNDestroy(&g->G));
  PetscCall(PdAdamDestroy(&g->adamG));
  PetscCall(PdAdamDestroy(&g->adamH));
  for (PetscInt d = 0; d < 2; d++) {
    for (PetscInt sc = 0; sc < PD_CYCLEGAN_MAX_SCALES; sc++) {
      PetscCall(PdNNDestroy(&g->D[d][sc]));
      PetscCall(PdAdamDestroy(&g->adamD[d][sc]));
    }
    PetscCall(PetscFree(g->fakes[d]));
  }
  PetscCall(PetscFree(g->pool[0].v));
  PetscCall(PdBlurFFTDestroy(&g->blur));
  PetscCall(PetscFree2(g->h, g->dh));
  PetscCall(PetscFree(g->flat));
  PetscCall(PetscFree5(g->ycyc, g->ytil, g->gx, g->gy, g->gt));
  PetscCall(PetscFree2(g->tgt, g->gz));
  PetscCall(PetscFree(g));
  *gp = NULL;
  PetscFunctionReturn(0);
}

/* loss += scale · Σ_s mean (D^s(v) − t)²; the discriminators' parameter gradients are added
   unless they are frozen, and dL/dv is added to gin when gin is given. */
static PetscErrorCode LSMulti(PdCycleGAN g, PetscInt dom, const PdTensor *v, float t, double scale, double *loss, float *gin)
{
  PetscFunctionBegin;
  for (PetscInt sc = 0; sc < g->s.scales; sc++) {
    PdNN     D = g->D[dom][sc];
    PdTensor z, tg, gz, din;
    double   l;

    PetscCall(PdNNForward(D, NULL, v, &z));
    for (PetscInt i = 0; i < PdTensorSize(&z); i++) g->tgt[i] = t;
    tg = PdTensorView(z.n, z.c, z.d, z.h, z.w, g->tgt);
    gz = PdTensorView(z.n, z.c, z.d, z.h, z.w, g->gz);
    PetscCall(PdNNLoss(PD_NN_LOSS_MSE, &z, &tg, scale, &l, &gz));
    *loss += l;
    PetscCall(PdNNBackward(D, NULL, &gz, gin ? &din : NULL));
    if (gin)
      for (PetscInt i = 0; i < g->M; i++) gin[i] += din.v[i];
  }
  PetscFunctionReturn(0);
}

/* The fake shown to the discriminator: the new one, or (full buffer, probability ½) a stored one
   that the new one replaces. */
static void PoolQuery(HistoryPool *p, PetscInt M, const float *fake, float *shown)
{
  if (p->cap == 0) {
    memcpy(shown, fake, sizeof(float) * (size_t)M);
    return;
  }
  if (p->count < p->cap) {
    memcpy(p->v + (size_t)p->count++ * (size_t)M, fake, sizeof(float) * (size_t)M);
    memcpy(shown, fake, sizeof(float) * (size_t)M);
  } else if (PdRandUniform(&p->rng) < 0.5) {
    float *slot = p->v + (size_t)PetscMin((PetscInt)(PdRandUniform(&p->rng) * (double)p->cap), p->cap - 1) * (size_t)M;
    memcpy(shown, slot, sizeof(float) * (size_t)M);
    memcpy(slot, fake, sizeof(float) * (size_t)M);
  } else memcpy(shown, fake, sizeof(float) * (size_t)M);
}

/* Sums the gradient segments over the ranks through one packed buffer. */
static PetscErrorCode AllreduceSegments(PdCycleGAN g, PetscInt nseg, float *const seg[], const PetscInt len[])
{
  PetscInt off = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(EV_ALLREDUCE, 0, 0, 0, 0));
  for (PetscInt i = 0; i < nseg; off += len[i++]) PetscCall(PetscArraycpy(g->flat + off, seg[i], len[i]));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, g->flat, (int)off, MPI_FLOAT, MPI_SUM, g->comm));
  off = 0;
  for (PetscInt i = 0; i < nseg; off += len[i++]) PetscCall(PetscArraycpy(seg[i], g->flat + off, len[i]));
  PetscCall(PetscLogEventEnd(EV_ALLREDUCE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetFrozen(PdCycleGAN g, PetscBool frozen)
{
  PetscFunctionBegin;
  for (PetscInt d = 0; d < g->ndom; d++)
    for (PetscInt sc = 0; sc < g->s.scales; sc++) PetscCall(PdNNSetFrozen(g->D[d][sc], frozen));
  PetscFunctionReturn(0);
}

static PetscErrorCode GeneratorSample(PdCycleGAN g, const float *xv, const float *yv, double scale, PetscInt i, double *loss)
{
  const PetscInt P = g->s.patch, M = g->M;
  PdTensor       x = PdTensorView(1, 1, P, P, P, (float *)xv), y = PdTensorView(1, 1, P, P, P, (float *)yv);
  PdTensor       xh, xc, yc = PdTensorView(1, 1, P, P, P, g->ycyc), yt = PdTensorView(1, 1, P, P, P, g->ytil);
  PdTensor       gxc, gyc = PdTensorView(1, 1, P, P, P, g->gy), dyt, dxh = PdTensorView(1, 1, P, P, P, g->gt), gxh = PdTensorView(1, 1, P, P, P, g->gx);
  float         *dh = g->s.blind ? g->dh : NULL;
  double         l;

  PetscFunctionBegin;
  PetscCall(PdNNForward(g->G, g->wA, &y, &xh));
  PetscCall(PetscLogEventBegin(EV_BLUR, 0, 0, 0, 0));
  PetscCall(PdBlurFFTForward(g->blur, &xh, &yc));
  PetscCall(PdBlurFFTForward(g->blur, &x, &yt));
  PetscCall(PetscLogEventEnd(EV_BLUR, 0, 0, 0, 0));
  PetscCall(PdNNForward(g->G, g->wB, &yt, &xc));
  /* the detached fakes for the discriminator step */
  PetscCall(PetscArraycpy(g->fakes[0] + i * M, xh.v, M));
  PetscCall(PetscArraycpy(g->fakes[1] + i * M, yt.v, M));
  /* cycle terms; gxc in the temporary gt (free until the blur backward) */
  gxc = PdTensorView(1, 1, P, P, P, g->gt);
  PetscCall(PdNNLoss(PD_NN_LOSS_MAE, &xc, &x, g->s.gamma * scale, &l, &gxc));
  *loss += l;
  PetscCall(PdNNLoss(PD_NN_LOSS_MAE, &yc, &y, g->s.gamma * scale, &l, &gyc));
  *loss += l;
  /* ỹ branch: G (work B), D_Y, then h */
  PetscCall(PdNNBackward(g->G, g->wB, &gxc, &dyt));
  if (g->ndom == 2) PetscCall(LSMulti(g, 1, &yt, 1.0f, scale, loss, dyt.v));
  PetscCall(PetscLogEventBegin(EV_BLUR, 0, 0, 0, 0));
  if (dh) PetscCall(PdBlurFFTBackward(g->blur, &x, &dyt, NULL, dh));
  /* x̂ branch: Hᵀ and h from the y cycle, D_X, then G (work A) */
  PetscCall(PdBlurFFTBackward(g->blur, &xh, &gyc, &dxh, dh));
  PetscCall(PetscLogEventEnd(EV_BLUR, 0, 0, 0, 0));
  PetscCall(PetscArraycpy(gxh.v, dxh.v, M));
  PetscCall(LSMulti(g, 0, &xh, 1.0f, scale, loss, gxh.v));
  PetscCall(PdNNBackward(g->G, g->wA, &gxh, NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCycleGANStep(PdCycleGAN g, PetscInt nlocal, PetscInt B, const float *x, const float *y, double loss[2])
{
  const PetscInt P = g->s.patch, M = g->M;
  const double   scale = 1.0 / (double)B;
  float         *gG, *thG, *seg[1 + 2 * PD_CYCLEGAN_MAX_SCALES];
  PetscInt       len[1 + 2 * PD_CYCLEGAN_MAX_SCALES], nseg = 0, np;

  PetscFunctionBegin;
  loss[0] = loss[1] = 0;
  if (nlocal > g->nfake) {
    for (PetscInt d = 0; d < 2; d++) {
      PetscCall(PetscFree(g->fakes[d]));
      PetscCall(PetscMalloc1((size_t)nlocal * (size_t)M, &g->fakes[d]));
    }
    g->nfake = nlocal;
  }
  /* generator step */
  PetscCall(PetscLogEventBegin(EV_GEN, 0, 0, 0, 0));
  PetscCall(SetFrozen(g, PETSC_TRUE));
  PetscCall(PdNNZeroGrads(g->G));
  PetscCall(PetscArrayzero(g->dh, g->nk));
  for (PetscInt i = 0; i < nlocal; i++) PetscCall(GeneratorSample(g, x + i * M, y + i * M, scale, i, &loss[0]));
  PetscCall(PetscLogEventEnd(EV_GEN, 0, 0, 0, 0));
  PetscCall(PdNNGetGrads(g->G, &gG, &np));
  seg[0] = gG;
  len[0] = np;
  seg[1] = g->dh;
  len[1] = g->nk;
  PetscCall(AllreduceSegments(g, 2, seg, len));
  PetscCall(PdNNGetParams(g->G, &thG, NULL));
  PetscCall(PdAdamStepFloat(g->adamG, g->s.lr, NULL, gG, thG));
  if (g->s.blind) {
    PetscCall(PdAdamStepFloat(g->adamH, g->s.lr, NULL, g->dh, g->h));
    if (g->s.project) PetscCall(PdBlurProjectSimplex(g->nk, g->h));
    PetscCall(PdBlurFFTSetKernel(g->blur, g->h));
  }
  /* discriminator step on the detached fakes through the history buffers */
  PetscCall(PetscLogEventBegin(EV_DISC, 0, 0, 0, 0));
  PetscCall(SetFrozen(g, PETSC_FALSE));
  for (PetscInt d = 0; d < g->ndom; d++)
    for (PetscInt sc = 0; sc < g->s.scales; sc++) PetscCall(PdNNZeroGrads(g->D[d][sc]));
  for (PetscInt i = 0; i < nlocal; i++)
    for (PetscInt d = 0; d < g->ndom; d++) {
      const float *real = d == 0 ? x + i * M : y + i * M;
      PdTensor     r = PdTensorView(1, 1, P, P, P, (float *)real), f = PdTensorView(1, 1, P, P, P, g->gt);
      PoolQuery(&g->pool[d], M, g->fakes[d] + i * M, g->gt);
      PetscCall(LSMulti(g, d, &r, 1.0f, 0.5 * scale, &loss[1], NULL));
      PetscCall(LSMulti(g, d, &f, 0.0f, 0.5 * scale, &loss[1], NULL));
    }
  PetscCall(PetscLogEventEnd(EV_DISC, 0, 0, 0, 0));
  for (PetscInt d = 0; d < g->ndom; d++)
    for (PetscInt sc = 0; sc < g->s.scales; sc++, nseg++) PetscCall(PdNNGetGrads(g->D[d][sc], &seg[nseg], &len[nseg]));
  PetscCall(AllreduceSegments(g, nseg, seg, len));
  for (PetscInt d = 0; d < g->ndom; d++)
    for (PetscInt sc = 0; sc < g->s.scales; sc++) {
      float *th, *gr;
      PetscCall(PdNNGetParams(g->D[d][sc], &th, NULL));
      PetscCall(PdNNGetGrads(g->D[d][sc], &gr, NULL));
      PetscCall(PdAdamStepFloat(g->adamD[d][sc], g->s.lr, NULL, gr, th));
    }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, loss, 2, MPI_DOUBLE, MPI_SUM, g->comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCycleGANGetGenerator(PdCycleGAN g, PdNN *G)
{
  *G = g->G;
  return 0;
}

PetscErrorCode PdCycleGANGetKernel(PdCycleGAN g, const float **h)
{
  *h = g->h;
  return 0;
}

PetscErrorCode PdCycleGANGetSettings(PdCycleGAN g, const PdCycleGANSettings **s)
{
  *s = &g->s;
  return 0;
}

PetscErrorCode PdCycleGANGetSizes(PdCycleGAN g, PetscInt *ngen, PetscInt *ndisc)
{
  if (ngen) *ngen = g->ngen;
  if (ndisc) *ndisc = g->ndisc;
  return 0;
}

PetscErrorCode PdCycleGANGetDiscriminator(PdCycleGAN g, PetscInt d, PetscInt s, PdNN *D, PdAdam *adam)
{
  const PetscBool has = (PetscBool)(d >= 0 && d < g->ndom && s >= 0 && s < g->s.scales);
  *D    = has ? g->D[d][s] : NULL;
  *adam = has ? g->adamD[d][s] : NULL;
  return 0;
}

PetscErrorCode PdCycleGANGetAdam(PdCycleGAN g, PdAdam *adamG, PdAdam *adamH)
{
  *adamG = g->adamG;
  *adamH = g->adamH;
  return 0;
}

PetscErrorCode PdCycleGANSetKernel(PdCycleGAN g, const float *h)
{
  PetscFunctionBegin;
  PetscCall(PetscArraycpy(g->h, h, g->nk));
  PetscCall(PdBlurFFTSetKernel(g->blur, g->h));
  PetscFunctionReturn(0);
}

/* The history buffers, rank-local, as one distributed volume: rank r's 2·pool crops (X's, then
   Y's) are its slab of planes [r·2·pool·P, (r + 1)·2·pool·P). */
static PetscErrorCode HistoryLayout(PdCycleGAN g, PdLayout **lay)
{
  const ptrdiff_t P = g->s.patch, per = 2 * g->s.pool * P;
  ptrdiff_t       n[3] = {0, P, P};
  int             rank, size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(g->comm, &rank));
  PetscCallMPI(MPI_Comm_size(g->comm, &size));
  n[0] = per * size;
  PetscCall(PdLayoutCreate(g->comm, n, per * rank, per, P, P * P, lay));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCycleGANSaveHistory(PdCycleGAN g, const char *path, PetscInt step)
{
  double      mine[6], *all, shape[4];
  int         size;
  PdLayout   *lay;
  PdH5Writer  w;

  PetscFunctionBegin;
  PetscCheck(g->s.pool > 0, g->comm, PETSC_ERR_ARG_WRONG, "no history buffers to save");
  PetscCallMPI(MPI_Comm_size(g->comm, &size));
  /* per domain: the fill and the stream's counter in two exact 32-bit halves */
  for (PetscInt d = 0; d < 2; d++) {
    mine[3 * d]     = (double)g->pool[d].count;
    mine[3 * d + 1] = (double)(g->pool[d].rng.ctr >> 32);
    mine[3 * d + 2] = (double)(g->pool[d].rng.ctr & 0xffffffffULL);
  }
  PetscCall(PetscMalloc1(6 * size, &all));
  PetscCallMPI(MPI_Allgather(mine, 6, MPI_DOUBLE, all, 6, MPI_DOUBLE, g->comm));
  shape[0] = size;
  shape[1] = (double)g->s.pool;
  shape[2] = (double)g->s.patch;
  shape[3] = (double)step;
  PetscCall(HistoryLayout(g, &lay));
  PetscCall(PdH5WriterOpen(g->comm, path, &w));
  PetscCall(PdH5WriterAddScalars(w, "history_shape", 4, shape));
  PetscCall(PdH5WriterAddArray(w, "history_state", 6 * size, all));
  PetscCall(PdH5WriterAdd(w, "/history", lay, g->pool[0].v, NULL));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PetscFree(all));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCycleGANLoadHistory(PdCycleGAN g, const char *path, PetscInt step)
{
  double    *all, shape[4];
  int        size, rank;
  PdLayout  *lay;
  char       spec[PETSC_MAX_PATH_LEN + 16];

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(g->comm, &rank));
  PetscCallMPI(MPI_Comm_size(g->comm, &size));
  PetscCall(PdH5ReadScalars(g->comm, path, "history_shape", 4, shape));
  PetscCheck(shape[0] == size, g->comm, PD_ERR_INPUT, "%s: history buffers of a run on %d ranks; resume it on %d ranks (each rank keeps its own)", path, (int)shape[0], (int)shape[0]);
  PetscCheck(shape[1] == g->s.pool && shape[2] == g->s.patch, g->comm, PD_ERR_INPUT, "%s: history buffers of %d crops of %d^3, not -cyclegan_pool %" PetscInt_FMT " of %" PetscInt_FMT "^3", path, (int)shape[1], (int)shape[2], g->s.pool, g->s.patch);
  PetscCheck(shape[3] == step, g->comm, PD_ERR_INPUT, "%s: history buffers of step %" PetscInt_FMT ", the checkpoint is of step %" PetscInt_FMT " (an interrupted save?)", path, (PetscInt)shape[3], step);
  PetscCall(PetscMalloc1(6 * size, &all));
  PetscCall(PdH5ReadArray(g->comm, path, "history_state", 6 * size, all));
  for (PetscInt d = 0; d < 2; d++) {
    const double *st = all + 6 * rank + 3 * d;
    PetscCheck(st[0] >= 0 && st[0] <= g->s.pool, g->comm, PD_ERR_INPUT, "%s: history buffer fill out of range", path);
    g->pool[d].count   = (PetscInt)st[0];
    g->pool[d].rng.ctr = ((unsigned long long)st[1] << 32) | (unsigned long long)st[2];
  }
  PetscCall(PetscSNPrintf(spec, sizeof(spec), "%s:/history", path));
  PetscCall(HistoryLayout(g, &lay));
  PetscCall(PdImageRead(spec, lay, g->pool[0].v));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PetscFree(all));
  PetscFunctionReturn(0);
}
