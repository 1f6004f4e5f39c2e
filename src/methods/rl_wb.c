/* Richardson-Lucy with the Wiener-Butterworth back projector (Guo et al., "Rapid image
   deconvolution and multiview fusion for optical microscopy", Nature Biotechnology 38:1337, 2020).

     x_{k+1} = x_k · B( M·y / (H x_k + b) ) / B(M·1)

     B(k)  = c · (1 + α) conj(Ô(k)) / (|Ô(k)|² + α) · 1 / sqrt(1 + ε² ρ(k)^(2n))
     ρ(k)² = Σ_d (k_d / kc_d)²,   ε² = (W_c / β)² − 1,   W_c = (1 + α) r / (r² + α)

   Ô is the OTF divided by its peak, M the measured box, c makes B(0) = 1. The cut-off kc_d is
   where the OTF's support ends along axis d: the largest |k_d| with |Ô(k)| >= r (r =
   -decon_wb_cutoff_ratio), or given (-decon_wb_cutoff). There the Wiener filter's gain is W_c
   and ε makes the whole back projector's gain β (-decon_wb_beta; by default r, the gain of the
   matched back projector Hᵀ at its own cut-off, as in Guo et al.). The Wiener part undoes the
   blur in one step, the Butterworth part removes what it would amplify beyond the support
   (noise only); B replaces Hᵀ in the correction and in the boundary weights, the forward
   operator stays H.
   Defaults: n = 10 (Guo et al.'s; 4..15 work), α = 0.005, the upper end of their range
   (1e-4..5e-3): widefield data near 20 dB SNR lose less to amplified noise than with their
   0.001 (docs/methods/unmatched.md), r = 0.01, 3 iterations. -decon_wb_matched uses B = Hᵀ: plain RL, a check of the machinery.
   B is built once per PSF and stored as the FFT's second filter. Cost per iteration: RL's.
   Working-size volumes per rank: x, w = 1/B(M·1), the FFT buffer: 3, plus the OTF, B and the
   data on the image box. */
#include "methods/backprojector_impl.h"

typedef struct {
  double    alpha, beta, ratio, order;
  double    cutoff[3];          /* given cut-offs (cycles per voxel); 0: from the OTF */
  PetscBool matched;
  double    kc[3], eps2;        /* of the back projector in use */
} WBCtx;

static PetscErrorCode WBCreate(PdDecon d)
{
  WBCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->alpha = 5e-3;
  c->order = 10;
  c->ratio = 1e-2;
  c->beta  = -1; /* the cut-off ratio */
  d->mctx  = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode WBSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  WBCtx    *c = (WBCtx *)d->mctx;
  PetscInt  ncut = 3;
  PetscReal cut[3] = {0, 0, 0};
  PetscBool set;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Richardson-Lucy with the Wiener-Butterworth back projector (rl_wb)");
  PetscCall(PetscOptionsReal("-decon_wb_alpha", "Wiener parameter alpha of the back projector", "", c->alpha, &c->alpha, NULL));
  PetscCall(PetscOptionsReal("-decon_wb_order", "Order n of the Butterworth low-pass", "", c->order, &c->order, NULL));
  PetscCall(PetscOptionsReal("-decon_wb_cutoff_ratio", "The cut-off along each axis is where |OTF| falls below this fraction of its peak", "", c->ratio, &c->ratio, NULL));
  PetscCall(PetscOptionsReal("-decon_wb_beta", "Gain of the back projector at the cut-off (negative: the cut-off ratio)", "", c->beta, &c->beta, NULL));
  PetscCall(PetscOptionsRealArray("-decon_wb_cutoff", "Cut-offs z,y,x in cycles per voxel (instead of the OTF's support)", "", cut, &ncut, &set));
  PetscCall(PetscOptionsBool("-decon_wb_matched", "Use the matched back projector (plain Richardson-Lucy), a check", "", c->matched, &c->matched, NULL));
  PetscOptionsHeadEnd();
  PdBPInvalidate(d);
  PetscCheck(c->alpha >= 0 && isfinite(c->alpha), d->comm, PD_ERR_INPUT, "-decon_wb_alpha must be >= 0 (got %g)", c->alpha);
  PetscCheck(c->order >= 0 && c->order <= 100, d->comm, PD_ERR_INPUT, "-decon_wb_order must be between 0 and 100 (got %g)", c->order);
  PetscCheck(c->ratio > 0 && c->ratio < 1, d->comm, PD_ERR_INPUT, "-decon_wb_cutoff_ratio must be in (0, 1) (got %g)", c->ratio);
  PetscCheck(c->beta < 1, d->comm, PD_ERR_INPUT, "-decon_wb_beta must be below 1 (got %g)", c->beta);
  if (set) {
    PetscCheck(ncut == 3, d->comm, PD_ERR_INPUT, "-decon_wb_cutoff takes three values z,y,x (cycles per voxel)");
    for (int a = 0; a < 3; a++) {
      PetscCheck(cut[a] > 0 && cut[a] <= 1, d->comm, PD_ERR_INPUT, "-decon_wb_cutoff: cut-offs must be in (0, 1] cycles per voxel (got %g)", cut[a]);
      c->cutoff[a] = cut[a];
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WBBackProjector(PdDecon d, PetscBool *unmatched)
{
  WBCtx   *c = (WBCtx *)d->mctx;
  PdBPGrid g;

  PetscFunctionBegin;
  PetscCall(PdBPGridGet(d, &g));
  *unmatched = PETSC_TRUE;
  if (c->matched) {
    *unmatched = PETSC_FALSE;
    PetscCall(PdBPMatched(&g));
    PetscFunctionReturn(0);
  }
  if (c->cutoff[0] > 0) for (int a = 0; a < 3; a++) c->kc[a] = c->cutoff[a];
  else PetscCall(PdBPSupportExtent(d->comm, &g, c->ratio, c->kc));
  const double beta = c->beta > 0 ? c->beta : c->ratio;
  const double wc   = (1.0 + c->alpha) * c->ratio / (c->ratio * c->ratio + c->alpha);
  c->eps2           = PetscMax(0.0, PetscSqr(wc / beta) - 1.0);
  for (ptrdiff_t i = 0; i < g.ncplx; i++) {
    double f[3], w[2], rho2 = 0;
    PdBPFrequency(&g, i, f);
    PdBPWiener(&g, i, c->alpha, w);
    for (int a = 0; a < 3; a++) rho2 += PetscSqr(f[a] / c->kc[a]);
    const double bw = 1.0 / sqrt(1.0 + c->eps2 * pow(rho2, c->order));
    g.B[2 * i]     = (float)(w[0] * bw);
    g.B[2 * i + 1] = (float)(w[1] * bw);
  }
  PetscCall(PdBPNormalize(d->comm, &g));
  PetscCall(PetscInfo(NULL, "Wiener-Butterworth back projector: cut-offs %g, %g, %g cycles/voxel, eps^2 %g\n", c->kc[0], c->kc[1], c->kc[2], c->eps2));
  PetscFunctionReturn(0);
}

static PetscErrorCode WBView(PdDecon d, PetscViewer v)
{
  WBCtx *c = (WBCtx *)d->mctx;

  PetscFunctionBegin;
  if (c->matched) PetscCall(PetscViewerASCIIPrintf(v, "back projector: matched (Hᵀ)\n"));
  else
    PetscCall(PetscViewerASCIIPrintf(v, "Wiener-Butterworth back projector: alpha %g, order %g, cut-offs %.4g, %.4g, %.4g cycles/voxel (%s), gain there %g\n", c->alpha, c->order, c->kc[0], c->kc[1], c->kc[2],
                                     c->cutoff[0] > 0 ? "given" : "OTF support", c->beta > 0 ? c->beta : c->ratio));
  PetscFunctionReturn(0);
}

static PetscErrorCode WBDestroy(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconWBGetCutoff(PdDecon d, double kc[3], double *eps2)
{
  WBCtx *c = (WBCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCheck(d->ops == &PdMethod_RLWB, d->comm, PD_ERR_INPUT, "method %s has no Wiener-Butterworth back projector", d->ops->name);
  for (int a = 0; a < 3; a++) kc[a] = c->kc[a];
  if (eps2) *eps2 = c->eps2;
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RLWB = {.name           = "rl_wb",
                                   .description    = "Richardson-Lucy with the Wiener-Butterworth back projector, 1-3 iterations",
                                   .nvolumes       = 3,
                                   .create         = WBCreate,
                                   .setfromoptions = WBSetFromOptions,
                                   .setup          = PdBPSetUp,
                                   .step           = PdBPStep,
                                   .view           = WBView,
                                   .destroy        = WBDestroy,
                                   .backprojector  = WBBackProjector,
                                   .default_max_it = 3,
                                   .default_stop_rule = PD_STOP_RULE_CHANGE_RISE};
