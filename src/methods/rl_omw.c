/* Richardson-Lucy with the OTF-masked Wiener back projector (Ruan et al., "Image processing
   tools for petabyte-scale light sheet microscopy data" (PetaKit5D), Nature Methods, 2024).

     x_{k+1} = x_k · B( M·y / (H x_k + b) ) / B(M·1)

     B(k) = c · conj(Ô(k)) / (|Ô(k)|² + α) · A(|g| / R(g / |g|)),   g_d = k_d / e_d

   Ô is the OTF divided by its peak, M the measured box, c makes B(0) = 1.
   OTF mask: {|Ô| >= t} with t the largest value for which the mask still holds the fraction τ
   (-decon_omw_threshold, 0.9) of Σ|Ô| over the whole spectrum (|Ô| sorted in descending order,
   kept until τ of the sum is reached; the threshold is found by bisection on the float values,
   a sort across ranks is not needed). e_d is the mask's extent along axis d, R(u) the mask's
   radius in direction u of the scaled frequencies g (its outermost voxel in each of 16 × 32
   direction bins, equal in solid angle, interpolated between bin centres; empty bins take their
   neighbours' mean). A is a Hann (cos²) apodisation: 1 below lo, cos²(π/2 (s − lo)/(hi − lo))
   between, 0 beyond hi (-decon_omw_apodize lo,hi; 0.8, 1 as in PetaKit5D), so B falls smoothly
   to zero at the mask's edge instead of ringing. PetaKit5D also opens and closes the mask
   morphologically and keeps its largest component; the bins' outermost radius plays that part
   here (a star-shaped mask).
   Defaults: α = 0.005, τ = 0.9, (lo, hi) = (0.8, 1), PetaKit5D's; 2 iterations.
   B is built once per PSF and stored as the FFT's second filter. Cost per iteration: RL's.
   Working-size volumes per rank: x, w = 1/B(M·1), the FFT buffer: 3, plus the OTF, B and the
   data on the image box. */
#include "methods/backprojector_impl.h"
#include <stdint.h>
#include <string.h>

#define NT 16 /* direction bins in cos(polar angle) */
#define NP 32 /* direction bins in azimuth */

typedef struct {
  double alpha, threshold, apod[2];
  double t, fraction, extent[3]; /* of the back projector in use */
} OMWCtx;

static PetscErrorCode OMWCreate(PdDecon d)
{
  OMWCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->alpha     = 5e-3;
  c->threshold = 0.9;
  c->apod[0]   = 0.8;
  c->apod[1]   = 1.0;
  d->mctx      = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode OMWSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  OMWCtx   *c = (OMWCtx *)d->mctx;
  PetscInt  na = 2;
  PetscReal ap[2] = {c->apod[0], c->apod[1]};
  PetscBool set;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Richardson-Lucy with the OTF-masked Wiener back projector (rl_omw)");
  PetscCall(PetscOptionsReal("-decon_omw_alpha", "Wiener parameter alpha of the back projector", "", c->alpha, &c->alpha, NULL));
  PetscCall(PetscOptionsReal("-decon_omw_threshold", "The OTF mask holds this fraction of the OTF's summed magnitude", "", c->threshold, &c->threshold, NULL));
  PetscCall(PetscOptionsRealArray("-decon_omw_apodize", "Hann apodisation lo,hi in fractions of the mask's radius", "", ap, &na, &set));
  PetscOptionsHeadEnd();
  PdBPInvalidate(d);
  PetscCheck(c->alpha > 0 && isfinite(c->alpha), d->comm, PD_ERR_INPUT, "-decon_omw_alpha must be > 0 (got %g)", c->alpha);
  PetscCheck(c->threshold > 0 && c->threshold <= 1, d->comm, PD_ERR_INPUT, "-decon_omw_threshold must be in (0, 1] (got %g)", c->threshold);
  if (set) {
    PetscCheck(na == 2 && ap[0] >= 0 && ap[0] < ap[1], d->comm, PD_ERR_INPUT, "-decon_omw_apodize takes two values 0 <= lo < hi (fractions of the mask's radius)");
    c->apod[0] = ap[0];
    c->apod[1] = ap[1];
  }
  PetscFunctionReturn(0);
}

/* Σ m |Ô| over the values |Ô| >= t, over every rank (a: pairs |Ô|, m |Ô| per spectral value). */
static PetscErrorCode MassAbove(MPI_Comm comm, const PdBPGrid *g, const float *a, float t, double *sum)
{
  double s = 0;

  PetscFunctionBegin;
#pragma omp parallel for simd reduction(+ : s) schedule(static)
  for (ptrdiff_t i = 0; i < g->ncplx; i++) s += a[2 * i] >= t ? (double)a[2 * i + 1] : 0.0;
  PetscCall(PdAllreduceSum(comm, &s, 1));
  *sum = s;
  PetscFunctionReturn(0);
}

static inline uint32_t FloatBits(float v)
{
  uint32_t u;
  memcpy(&u, &v, sizeof(u));
  return u;
}

static inline float BitsFloat(uint32_t u)
{
  float v;
  memcpy(&v, &u, sizeof(v));
  return v;
}

/* The largest t with Σ_{a >= t} m a >= τ Σ m a: bisection on the bit patterns of non-negative
   floats, which order like their values, so t is exact. */
static PetscErrorCode MaskThreshold(MPI_Comm comm, const PdBPGrid *g, const float *a, double tau, float *t, double *fraction)
{
  double   total = 0, s = 0, amax = 0;
  uint32_t lo = 0, hi;

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < g->ncplx; i++) amax = PetscMax(amax, a[2 * i]);
  PetscCall(PdAllreduceMax(comm, &amax, 1));
  PetscCall(MassAbove(comm, g, a, 0.0f, &total));
  hi = FloatBits((float)amax) + 1; /* nothing is above: below the target */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    PetscCall(MassAbove(comm, g, a, BitsFloat(mid), &s));
    if (s >= tau * total) lo = mid;
    else hi = mid;
  }
  *t = BitsFloat(lo);
  PetscCall(MassAbove(comm, g, a, *t, &s));
  *fraction = total > 0 ? s / total : 1.0;
  PetscFunctionReturn(0);
}

/* Direction bin of the scaled frequency v (|v| = r > 0): cos(polar) from v[0] (z), azimuth from
   (y, x), as continuous coordinates with bin centres at integers. */
static inline void BinCoords(const double v[3], double r, double *bt, double *bp)
{
  *bt = (v[0] / r + 1.0) * 0.5 * NT - 0.5;
  *bp = (atan2(v[1], v[2]) + PETSC_PI) / (2 * PETSC_PI) * NP - 0.5;
}

static inline int BinIndex(double bt, double bp)
{
  int it = (int)floor(bt + 0.5), ip = (int)floor(bp + 0.5);
  it = PetscMin(NT - 1, PetscMax(0, it));
  ip = ((ip % NP) + NP) % NP;
  return it * NP + ip;
}

/* R bilinear between bin centres (clamped in the polar coordinate, periodic in azimuth). */
static double StarRadius(const double *R, double bt, double bp)
{
  bt       = PetscMin((double)(NT - 1), PetscMax(0.0, bt));
  int    t0 = (int)floor(bt), t1 = PetscMin(NT - 1, t0 + 1), p0 = (int)floor(bp);
  double ft = bt - t0, fp = bp - p0;
  int    q0 = ((p0 % NP) + NP) % NP, q1 = (q0 + 1) % NP;
  return (1 - ft) * ((1 - fp) * R[t0 * NP + q0] + fp * R[t0 * NP + q1]) + ft * ((1 - fp) * R[t1 * NP + q0] + fp * R[t1 * NP + q1]);
}

/* Bins no mask voxel fell into take the mean of their filled neighbours, until all are filled. */
static void FillEmptyBins(double *R)
{
  double next[NT * NP];
  for (int pass = 0; pass < NT + NP; pass++) {
    int empty = 0;
    for (int b = 0; b < NT * NP; b++) {
      next[b] = R[b];
      if (R[b] > 0) continue;
      const int it = b / NP, ip = b % NP;
      const int nb[4] = {it > 0 ? b - NP : -1, it < NT - 1 ? b + NP : -1, it * NP + (ip + 1) % NP, it * NP + (ip + NP - 1) % NP};
      double    s = 0;
      int       k = 0;
      for (int j = 0; j < 4; j++)
        if (nb[j] >= 0 && R[nb[j]] > 0) {
          s += R[nb[j]];
          k++;
        }
      if (k) next[b] = s / k;
      else empty++;
    }
    memcpy(R, next, sizeof(next));
    if (!empty) return;
  }
  for (int b = 0; b < NT * NP; b++)
    if (R[b] <= 0) R[b] = 1.0; /* no direction at all: the mask is the origin alone */
}

static PetscErrorCode OMWBackProjector(PdDecon d, PetscBool *unmatched)
{
  OMWCtx  *c = (OMWCtx *)d->mctx;
  PdBPGrid g;
  float    t = 0;
  double   R[NT * NP];
  const double lo = c->apod[0], hi = c->apod[1];

  PetscFunctionBegin;
  PetscCall(PdBPGridGet(d, &g));
  *unmatched = PETSC_TRUE;
  /* |Ô| and m |Ô| (m: the values it stands for) in B until B itself is written (each value reads
     only its own slots) */
  for (ptrdiff_t i = 0; i < g.ncplx; i++) {
    double o[2];
    PdBPOTF(&g, i, o);
    g.B[2 * i]     = (float)hypot(o[0], o[1]);
    g.B[2 * i + 1] = (float)PdBPMultiplicity(&g, i) * g.B[2 * i];
  }
  PetscCall(MaskThreshold(d->comm, &g, g.B, c->threshold, &t, &c->fraction));
  c->t = t;
  PetscCall(PdBPSupportExtent(d->comm, &g, t, c->extent));
  /* the mask's radius per direction: its outermost voxel, k and its conjugate -k */
  memset(R, 0, sizeof(R));
  for (ptrdiff_t i = 0; i < g.ncplx; i++) {
    double f[3], v[3], r = 0, bt, bp;
    if (g.B[2 * i] < t) continue;
    PdBPFrequency(&g, i, f);
    for (int a = 0; a < 3; a++) {
      v[a] = f[a] / c->extent[a];
      r += v[a] * v[a];
    }
    if (r == 0) continue;
    r = sqrt(r);
    for (int sgn = 0; sgn < 2; sgn++) {
      BinCoords(v, r, &bt, &bp);
      const int b = BinIndex(bt, bp);
      R[b]        = PetscMax(R[b], r);
      for (int a = 0; a < 3; a++) v[a] = -v[a];
    }
  }
  PetscCall(PdAllreduceMax(d->comm, R, NT * NP));
  FillEmptyBins(R);
  double rmax = 0; /* beyond hi · the largest radius the window is 0 in every direction */
  for (int k = 0; k < NT * NP; k++) rmax = PetscMax(rmax, R[k]);
  for (ptrdiff_t i = 0; i < g.ncplx; i++) {
    double f[3], v[3], w[2], r = 0, bt, bp, s, apod = 1;
    PdBPFrequency(&g, i, f);
    for (int a = 0; a < 3; a++) {
      v[a] = f[a] / c->extent[a];
      r += v[a] * v[a];
    }
    if (r >= PetscSqr(hi * rmax)) {
      g.B[2 * i] = g.B[2 * i + 1] = 0;
      continue;
    }
    if (r > 0) {
      r = sqrt(r);
      BinCoords(v, r, &bt, &bp);
      s    = r / StarRadius(R, bt, bp);
      apod = s < lo ? 1.0 : s < hi ? PetscSqr(cos(0.5 * PETSC_PI * (s - lo) / (hi - lo))) : 0.0;
    }
    PdBPWiener(&g, i, c->alpha, w);
    g.B[2 * i]     = (float)(w[0] * apod);
    g.B[2 * i + 1] = (float)(w[1] * apod);
  }
  PetscCall(PdBPNormalize(d->comm, &g));
  PetscCall(PetscInfo(NULL, "OTF-masked Wiener back projector: mask |OTF| >= %g (%g of the sum), extent %g, %g, %g cycles/voxel\n", c->t, c->fraction, c->extent[0], c->extent[1], c->extent[2]));
  PetscFunctionReturn(0);
}

static PetscErrorCode OMWView(PdDecon d, PetscViewer v)
{
  OMWCtx *c = (OMWCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "OTF-masked Wiener back projector: alpha %g, mask |OTF| >= %.4g of its peak (%.1f %% of its sum), extent %.4g, %.4g, %.4g cycles/voxel, apodised from %g to %g\n", c->alpha,
                                   c->t, 100 * c->fraction, c->extent[0], c->extent[1], c->extent[2], c->apod[0], c->apod[1]));
  PetscFunctionReturn(0);
}

static PetscErrorCode OMWDestroy(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconOMWGetThreshold(PdDecon d, double *t, double *fraction)
{
  OMWCtx *c = (OMWCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCheck(d->ops == &PdMethod_RLOMW, d->comm, PD_ERR_INPUT, "method %s has no OTF-masked Wiener back projector", d->ops->name);
  if (t) *t = c->t;
  if (fraction) *fraction = c->fraction;
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RLOMW = {.name           = "rl_omw",
                                    .description    = "Richardson-Lucy with the OTF-masked Wiener back projector, 1-2 iterations",
                                    .nvolumes       = 3,
                                    .create         = OMWCreate,
                                    .setfromoptions = OMWSetFromOptions,
                                    .setup          = PdBPSetUp,
                                    .step           = PdBPStep,
                                    .view           = OMWView,
                                    .destroy        = OMWDestroy,
                                    .backprojector  = OMWBackProjector,
                                    .default_max_it = 2,
                                   .default_stop_rule = PD_STOP_RULE_CHANGE_RISE};
