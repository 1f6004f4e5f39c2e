/* Training of the learned regulariser: denoising, deep-equilibrium gradients, Adam, data
   parallel over ranks (the equations are in wcrr_train.h).

   Per patch (side P, N = P³ voxels): the clean patch, its noisy copy, the denoised x* and the FISTA
   state (3 more), the loss gradient and the Anderson history (2 m): about 2m + 8 patch buffers,
   besides what one regulariser evaluation needs (wcrr.c). Patches are processed one after the
   other on a rank; the convolutions inside use the rank's threads. */
#include <pdecon/learn/wcrr_train.h>
#include <pdecon/learn/adam.h>
#include <pdecon/learn/wcrr_file.h>
#include <pdecon/core/fingerprint.h>
#include <pdecon/core/layout.h>
#include <pdecon/core/random.h>
#include <pdecon/learn/train_batch.h>
#include <petscblaslapack.h>
#include <petscviewer.h>
#include <math.h>
#include <string.h>

#define TRAIN_CKPT_VERSION 1

typedef struct {
  ptrdiff_t n[3];
  float    *v;
  char      name[PETSC_MAX_PATH_LEN];
} Volume;

struct _p_PdWCRRTrainer {
  MPI_Comm          comm;
  int               rank, size;
  PdWCRR            model;
  PdWCRRParamLayout pl;

  PetscInt nvol[2]; /* training, validation */
  Volume  *vol[2];

  /* settings */
  PetscInt           patch, batch, nbatches;
  double             sigma_max;
  unsigned long long seed;
  double             lr_conv, lr_pot;
  double             fista_tol;
  PetscInt           fista_max_it;
  double             anderson_tol, anderson_lambda;
  PetscInt           anderson_max_it, anderson_m;
  PetscInt           val_patches, val_every;
  double             val_sigma;
  PetscBool          monitor;
  char               checkpoint[PETSC_MAX_PATH_LEN];
  PetscInt           checkpoint_every;

  /* state */
  PetscInt b;             /* batches done = Adam steps taken */
  PdAdam   adam;          /* β1 0.9, β2 0.999, ε 1e−8 (PyTorch form) */
  double  *grad, *lr;     /* lr: Adam's learning rate of each parameter */
  double   stats[3];      /* of the last batch: FISTA steps, Anderson steps, Anderson residual (sums over patches) */
};

/* ---------------------------------------------------------------- denoiser (inner problem) */

PetscErrorCode PdWCRRDenoise(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *y, float *x, double tol, PetscInt max_it, PetscInt *its)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  float          *z, *g, *xn;
  double          mu, s, t = 1;
  PetscInt        k = 0;

  PetscFunctionBegin;
  PetscCall(PdWCRRGetPotential(m, &mu, NULL, NULL, NULL));
  s = 1.0 / (1.0 + mu);
  PetscCall(PdVolumeAlloc((size_t)N, &z));
  PetscCall(PdVolumeAlloc((size_t)N, &g));
  PetscCall(PdVolumeAlloc((size_t)N, &xn));
  PetscCall(PetscArraycpy(x, y, N));
  PetscCall(PetscArraycpy(z, y, N));
  for (k = 0; k < max_it; k++) {
    double dir = 0, dd = 0, nn = 0, tn;
    PetscCall(PdWCRRGradient(m, sigma, n, z, g, NULL));
    /* x_{k+1} = z_k - G_k, G_k = s[(z_k - y) + ∇R(z_k)] (stored in g) */
#pragma omp parallel for simd reduction(+ : dir, dd, nn) schedule(static)
    for (ptrdiff_t i = 0; i < N; i++) {
      const float G = (float)(s * ((double)(z[i] - y[i]) + g[i])), v = z[i] - G, d = v - x[i];
      xn[i] = v;
      dir += (double)G * d;
      dd += (double)d * d;
      nn += (double)v * v;
    }
    tn = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t));
    if (dir > 0) { /* the step went against the momentum: restart from x_{k+1} */
      t = 1;
      PetscCall(PetscArraycpy(z, xn, N));
    } else {
      const double a = (t - 1.0) / tn;
#pragma omp parallel for simd schedule(static)
      for (ptrdiff_t i = 0; i < N; i++) z[i] = xn[i] + (float)a * (xn[i] - x[i]);
      t = tn;
    }
    PetscCall(PetscArraycpy(x, xn, N));
    if (dd <= tol * tol * nn) {
      k++;
      break;
    }
  }
  if (its) *its = k;
  PetscCall(PdVolumeFree(&z));
  PetscCall(PdVolumeFree(&g));
  PetscCall(PdVolumeFree(&xn));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- backward (implicit) */

/* u = J_fᵀ u + g with J_f v = v - s(v + ∇²R(x*) v): Anderson acceleration (memory mem, Tikhonov
   lam relative to the largest squared residual of the history, mixing 1), from u = g. Returns the last iterate, its relative residual and the number of
   fixed-point evaluations. */
static PetscErrorCode SolveAdjoint(PdWCRRTrainer t, double sigma, const ptrdiff_t n[3], const float *xs, const float *g, float *u, PetscInt *nevals, double *res)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  const PetscInt  mem = t->anderson_m, maxit = PetscMax(2, t->anderson_max_it);
  float         **X, **F, *hv;
  double          mu, s, *H, *rhs;
  PetscInt        k, cur = 1, cnt = 2;
  PetscBLASInt    nb, one = 1, info, *piv;

  PetscFunctionBegin;
  PetscCall(PdWCRRGetPotential(t->model, &mu, NULL, NULL, NULL));
  s = 1.0 / (1.0 + mu);
  PetscCall(PetscMalloc2(mem, &X, mem, &F));
  for (k = 0; k < mem; k++) {
    PetscCall(PdVolumeAlloc((size_t)N, &X[k]));
    PetscCall(PdVolumeAlloc((size_t)N, &F[k]));
  }
  PetscCall(PdVolumeAlloc((size_t)N, &hv));
  PetscCall(PetscMalloc3((mem + 1) * (mem + 1), &H, mem + 1, &rhs, mem + 1, &piv));

#define FIXED_POINT(in, out) \
  do { \
    PetscCall(PdWCRRHessianVector(t->model, sigma, n, xs, in, hv)); \
    for (ptrdiff_t i_ = 0; i_ < N; i_++) (out)[i_] = (in)[i_] - (float)(s * ((double)(in)[i_] + hv[i_])) + g[i_]; \
  } while (0)

  PetscCall(PetscArraycpy(X[0], g, N));
  FIXED_POINT(X[0], F[0]);
  PetscCall(PetscArraycpy(X[1 % mem], F[0], N));
  FIXED_POINT(X[1 % mem], F[1 % mem]);
  *res = 0;
  for (k = 2; k < maxit; k++) {
    const PetscInt nh = PetscMin(k, mem);
    /* min ||Σ α_i (F_i - X_i)||² + lam ||α||², Σ α_i = 1, as the bordered system of the
       normal equations */
    double dmax = 0;
    for (PetscInt i = 0; i <= nh; i++)
      for (PetscInt j = 0; j <= nh; j++) {
        double v;
        if (i == 0 && j == 0) v = 0;
        else if (i == 0 || j == 0) v = 1;
        else {
          const float *Fi = F[i - 1], *Xi = X[i - 1], *Fj = F[j - 1], *Xj = X[j - 1];
          v = 0;
#pragma omp parallel for simd reduction(+ : v) schedule(static)
          for (ptrdiff_t q = 0; q < N; q++) v += ((double)Fi[q] - Xi[q]) * ((double)Fj[q] - Xj[q]);
          if (i == j) dmax = PetscMax(dmax, v);
        }
        H[i + j * (nh + 1)] = v;
      }
    /* Tikhonov term relative to the residuals' size: a fixed one would swamp them once they are
       small (and the loss gradient is small to begin with), and the step would stall at a plain
       average of the history */
    for (PetscInt i = 1; i <= nh; i++) H[i + i * (nh + 1)] += t->anderson_lambda * PetscMax(dmax, 1e-300);
    for (PetscInt i = 0; i <= nh; i++) rhs[i] = i == 0 ? 1 : 0;
    PetscCall(PetscBLASIntCast(nh + 1, &nb));
    PetscCallBLAS("LAPACKgesv", LAPACKgesv_(&nb, &one, H, &nb, piv, rhs, &nb, &info));
    PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "Anderson step: singular system (info %d)", (int)info);
    cur = k % mem;
    {
      float *xnew = hv; /* hv is free between evaluations */
      for (ptrdiff_t q = 0; q < N; q++) {
        double v = 0;
        for (PetscInt i = 0; i < nh; i++) v += rhs[i + 1] * F[i][q];
        xnew[q] = (float)v;
      }
      PetscCall(PetscArraycpy(X[cur], xnew, N));
    }
    FIXED_POINT(X[cur], F[cur]);
    cnt++;
    {
      double r2 = 0, f2 = 0;
      for (ptrdiff_t q = 0; q < N; q++) {
        const double d = (double)F[cur][q] - X[cur][q];
        r2 += d * d;
        f2 += (double)F[cur][q] * F[cur][q];
      }
      *res = sqrt(r2) / (1e-5 + sqrt(f2));
    }
    if (*res < t->anderson_tol) break;
  }
#undef FIXED_POINT
  PetscCall(PetscArraycpy(u, X[cur], N));
  *nevals = cnt;
  for (k = 0; k < mem; k++) {
    PetscCall(PdVolumeFree(&X[k]));
    PetscCall(PdVolumeFree(&F[k]));
  }
  PetscCall(PdVolumeFree(&hv));
  PetscCall(PetscFree2(X, F));
  PetscCall(PetscFree3(H, rhs, piv));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- patches */

/* Patch `item` of set `which`: a clean cube cut from a random volume at a random corner, and its
   noisy copy at noise level *sigma (fixed: sigma_fixed >= 0, else U[0, σ_max]). */
static void DrawPatch(PdWCRRTrainer t, int which, unsigned long long item, double sigma_fixed, float *clean, float *noisy, double *sigma)
{
  PdRandStream    r = PdRandStreamCreate(t->seed, item);
  const PetscInt  P = t->patch;
  const Volume   *V = &t->vol[which][PetscMin(t->nvol[which] - 1, (PetscInt)(PdRandUniform(&r) * t->nvol[which]))];
  ptrdiff_t       c[3];
  double          sg;

  for (int d = 0; d < 3; d++) c[d] = (ptrdiff_t)(PdRandUniform(&r) * (double)(V->n[d] - P + 1));
  sg     = PdRandUniform(&r) * t->sigma_max;
  *sigma = sigma_fixed >= 0 ? sigma_fixed : sg;
  for (PetscInt z = 0; z < P; z++)
    for (PetscInt y = 0; y < P; y++)
      for (PetscInt x = 0; x < P; x++) {
        const ptrdiff_t i = (z * P + y) * P + x;
        clean[i]          = V->v[((c[0] + z) * V->n[1] + c[1] + y) * V->n[2] + c[2] + x];
        noisy[i]          = clean[i] + (float)(*sigma / 255.0 * PdRandNormal(&r));
      }
}

/* Loss of one patch and its gradient added into t->grad (weight 1/B). */
static PetscErrorCode PatchGradient(PdWCRRTrainer t, unsigned long long item, double *loss, double stats[3])
{
  const PetscInt  P = t->patch;
  const ptrdiff_t n[3] = {P, P, P}, N = (ptrdiff_t)P * P * P;
  const double    w = 1.0 / ((double)N * t->batch);
  float          *clean, *noisy, *xs, *gl, *u;
  double          sigma, l = 0, mu, res = 0;
  PetscInt        its = 0, nev = 0;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc((size_t)N, &clean));
  PetscCall(PdVolumeAlloc((size_t)N, &noisy));
  PetscCall(PdVolumeAlloc((size_t)N, &xs));
  PetscCall(PdVolumeAlloc((size_t)N, &gl));
  PetscCall(PdVolumeAlloc((size_t)N, &u));
  DrawPatch(t, 0, item, -1, clean, noisy, &sigma);
  PetscCall(PdWCRRDenoise(t->model, sigma, n, noisy, xs, t->fista_tol, t->fista_max_it, &its));
  for (ptrdiff_t i = 0; i < N; i++) {
    const double d = (double)xs[i] - clean[i];
    l += fabs(d);
    gl[i] = (float)(d > 0 ? w : d < 0 ? -w : 0);
  }
  *loss += l * w;
  PetscCall(SolveAdjoint(t, sigma, n, xs, gl, u, &nev, &res));
  /* ∂loss/∂θ = uᵀ ∂f/∂θ for f(x) = x - s[(x - y) + ∇R(x; θ)], s = 1/(1 + μ):
       -s uᵀ ∂_θ ∇R(x*; θ)   through every parameter, and
       -uᵀ G ds/dm = uᵀ G μ/(1 + μ)²   through the step (m = log μ), G = (x* - y) + ∇R(x*).
     G vanishes at an exact minimiser; after the few FISTA steps of training it does not, and this
     term (as in the original's differentiable application of f) keeps μ, and with it the step,
     from drifting to where the truncated solver no longer moves. */
  PetscCall(PdWCRRGetPotential(t->model, &mu, NULL, NULL, NULL));
  PetscCall(PdWCRRParamGradient(t->model, sigma, n, xs, u, -1.0 / (1.0 + mu), t->grad));
  {
    double ug = 0;
    PetscCall(PdWCRRGradient(t->model, sigma, n, xs, gl, NULL)); /* gl is free: ∇R(x*) */
    for (ptrdiff_t i = 0; i < N; i++) ug += (double)u[i] * ((double)xs[i] - noisy[i] + gl[i]);
    t->grad[t->pl.m] += ug * mu / ((1.0 + mu) * (1.0 + mu));
  }
  stats[0] += its;
  stats[1] += nev;
  stats[2] += res;
  PetscCall(PdVolumeFree(&clean));
  PetscCall(PdVolumeFree(&noisy));
  PetscCall(PdVolumeFree(&xs));
  PetscCall(PdVolumeFree(&gl));
  PetscCall(PdVolumeFree(&u));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerBatchGradient(PdWCRRTrainer t, PetscInt b, double *loss, double *grad)
{
  ptrdiff_t j0, nj;
  double    red[4] = {0, 0, 0, 0};

  PetscFunctionBegin;
  PetscCheck(t->nvol[0] > 0, t->comm, PD_ERR_INPUT, "training: no training volume");
  PetscCall(PetscArrayzero(t->grad, t->pl.n));
  PetscCall(PdBatchShare(t->comm, t->batch, &j0, &nj));
  for (ptrdiff_t j = j0; j < j0 + nj; j++) PetscCall(PatchGradient(t, PdBatchItem(b, t->batch, j), &red[0], red + 1));
  PetscCall(PdAllreduceSum(t->comm, t->grad, (int)t->pl.n));
  PetscCall(PdAllreduceSum(t->comm, red, 4));
  *loss = red[0];
  for (int i = 0; i < 3; i++) t->stats[i] = red[i + 1] / (double)t->batch;
  if (grad && grad != t->grad) PetscCall(PetscArraycpy(grad, t->grad, t->pl.n));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- validation */

PetscErrorCode PdWCRRTrainerValidate(PdWCRRTrainer t, double *psnr, double *psnr_noisy)
{
  const PetscInt  P = t->patch;
  const ptrdiff_t n[3] = {P, P, P}, N = (ptrdiff_t)P * P * P;
  const int       which = t->nvol[1] > 0 ? 1 : 0;
  float          *clean, *noisy, *x;
  double          sum[2] = {0, 0}, sigma;
  ptrdiff_t       j0, nj;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc((size_t)N, &clean));
  PetscCall(PdVolumeAlloc((size_t)N, &noisy));
  PetscCall(PdVolumeAlloc((size_t)N, &x));
  PetscCall(PdBatchShare(t->comm, t->val_patches, &j0, &nj));
  for (ptrdiff_t j = j0; j < j0 + nj; j++) {
    double e[2] = {0, 0};
    DrawPatch(t, which, PD_BATCH_VALIDATION_ITEM0 + (unsigned long long)j, t->val_sigma, clean, noisy, &sigma);
    PetscCall(PdWCRRDenoise(t->model, sigma, n, noisy, x, t->fista_tol, t->fista_max_it, NULL));
    for (ptrdiff_t i = 0; i < N; i++) {
      e[0] += ((double)x[i] - clean[i]) * ((double)x[i] - clean[i]);
      e[1] += ((double)noisy[i] - clean[i]) * ((double)noisy[i] - clean[i]);
    }
    for (int q = 0; q < 2; q++) sum[q] += -10.0 * log10(PetscMax(e[q] / (double)N, 1e-30));
  }
  PetscCall(PdAllreduceSum(t->comm, sum, 2));
  *psnr = sum[0] / (double)PetscMax(1, t->val_patches);
  if (psnr_noisy) *psnr_noisy = sum[1] / (double)PetscMax(1, t->val_patches);
  PetscCall(PdVolumeFree(&clean));
  PetscCall(PdVolumeFree(&noisy));
  PetscCall(PdVolumeFree(&x));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- Adam and the loop */

static PetscErrorCode AdamStep(PdWCRRTrainer t, double *theta)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < t->pl.n; i++) {
    /* the conv weights are the first three groups; the potential and the α-splines follow */
    const PetscBool conv = (PetscBool)((i >= t->pl.w[0] && i < t->pl.w[0] + t->pl.nw[0]) || (i >= t->pl.w[1] && i < t->pl.w[1] + t->pl.nw[1]) || (i >= t->pl.w[2] && i < t->pl.w[2] + t->pl.nw[2]));
    t->lr[i] = conv ? t->lr_conv : t->lr_pot;
  }
  PetscCall(PdAdamStepDouble(t->adam, t->lr, t->grad, theta));
  PetscFunctionReturn(0);
}

static const char *const neutral[] = {"batches", "monitor", "checkpoint", "checkpoint_every", "val_every", "restart", NULL};

static PetscErrorCode Fingerprint(PdWCRRTrainer t, double fp[2])
{
  PdHash   h = PD_HASH_INIT;
  PetscInt ch[3];

  PetscFunctionBegin;
  PetscCall(PdWCRRGetChannels(t->model, ch));
  PdHashBytes(&h, ch, sizeof(ch));
  PdHashBytes(&h, &t->patch, sizeof(t->patch));
  PdHashBytes(&h, &t->batch, sizeof(t->batch));
  PdHashBytes(&h, &t->seed, sizeof(t->seed));
  for (int s = 0; s < 2; s++)
    for (PetscInt i = 0; i < t->nvol[s]; i++) {
      const Volume *V = &t->vol[s][i];
      PdHashBytes(&h, V->n, sizeof(V->n));
      PdHashBytes(&h, V->v, sizeof(float) * (size_t)(V->n[0] * V->n[1] * V->n[2]));
    }
  PetscCall(PdHashOptions(&h, "train_", neutral));
  PdHashSplit(h, fp);
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckpointWrite(PdWCRRTrainer t)
{
  PdH5Writer w;
  double     meta[4], *m, *v;

  PetscFunctionBegin;
  if (!t->checkpoint[0]) PetscFunctionReturn(0);
  meta[0] = TRAIN_CKPT_VERSION;
  meta[1] = (double)t->b;
  PetscCall(Fingerprint(t, meta + 2));
  PetscCall(PdH5WriterOpen(t->comm, t->checkpoint, &w));
  PetscCall(PdWCRRWriterAdd(t->model, w));
  PetscCall(PdH5WriterAddScalars(w, "train_meta", 4, meta));
  PetscCall(PdAdamGetState(t->adam, NULL, NULL, &m, &v));
  PetscCall(PdH5WriterAddArray(w, "train_adam_m", t->pl.n, m));
  PetscCall(PdH5WriterAddArray(w, "train_adam_v", t->pl.n, v));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerRestart(PdWCRRTrainer t, const char *path)
{
  double   meta[4], fp[2], *theta, *m, *v;
  PdWCRR   loaded;
  PetscInt c0[3], c1[3];

  PetscFunctionBegin;
  PetscCall(PdH5ReadScalars(t->comm, path, "train_meta", 4, meta));
  PetscCheck(meta[0] == TRAIN_CKPT_VERSION, t->comm, PD_ERR_INPUT, "%s: training checkpoint version %g, expected %d", path, meta[0], TRAIN_CKPT_VERSION);
  PetscCall(Fingerprint(t, fp));
  PetscCheck(meta[2] == fp[0] && meta[3] == fp[1], t->comm, PD_ERR_INPUT, "%s: the checkpoint was written with other training data or options (patch, batch, seed, channels, -train_* settings); restart with the same ones", path);
  PetscCall(PdWCRRLoad(t->comm, path, &loaded));
  PetscCall(PdWCRRGetChannels(loaded, c0));
  PetscCall(PdWCRRGetChannels(t->model, c1));
  PetscCheck(c0[0] == c1[0] && c0[1] == c1[1] && c0[2] == c1[2], t->comm, PD_ERR_INPUT, "%s: model channels differ from this run's", path);
  {
    double *src;
    PetscCall(PdWCRRGetParams(loaded, &src));
    PetscCall(PdWCRRGetParams(t->model, &theta));
    PetscCall(PetscArraycpy(theta, src, t->pl.n));
    PetscCall(PdWCRRUpdate(t->model));
  }
  PetscCall(PdWCRRDestroy(&loaded));
  PetscCall(PdAdamGetState(t->adam, NULL, NULL, &m, &v));
  PetscCall(PdH5ReadArray(t->comm, path, "train_adam_m", t->pl.n, m));
  PetscCall(PdH5ReadArray(t->comm, path, "train_adam_v", t->pl.n, v));
  t->b = (PetscInt)meta[1];
  PetscCall(PdAdamSetStepCount(t->adam, t->b));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerTrain(PdWCRRTrainer t, PetscBool *stopped)
{
  const PetscInt b0 = t->b;
  double        *theta, t0 = PdTime(), psnr, psnr0, mu;
  PetscBool      stop = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCheck(t->nvol[0] > 0, t->comm, PD_ERR_INPUT, "training: no training volume");
  PetscCall(PdWCRRGetParams(t->model, &theta));
  if (t->monitor) {
    PetscCall(PdWCRRTrainerValidate(t, &psnr, &psnr0));
    PetscCall(PetscPrintf(t->comm, "  batch %5" PetscInt_FMT "/%" PetscInt_FMT "  validation PSNR %.2f dB at sigma %.4g (noisy %.2f dB)\n", t->b, t->nbatches, psnr, t->val_sigma, psnr0));
  }
  while (t->b < t->nbatches) {
    double loss, gn = 0;
    PetscCall(PdWCRRTrainerBatchGradient(t, t->b, &loss, NULL));
    for (PetscInt i = 0; i < t->pl.n; i++) gn += t->grad[i] * t->grad[i];
    /* the same numbers on every rank (summed): all stop together */
    PetscCheck(isfinite(loss) && isfinite(gn), t->comm, PETSC_ERR_NOT_CONVERGED, "training diverged at batch %" PetscInt_FMT " (loss %g, gradient norm %g): lower -train_lr_conv / -train_lr_potential, or restart from an earlier checkpoint", t->b + 1, loss, sqrt(gn));
    t->b++;
    PetscCall(AdamStep(t, theta));
    PetscCall(PdWCRRUpdate(t->model));
    PetscCall(PdStopRequested(t->comm, &stop));
    if (t->monitor) {
      const double el = PdTime() - t0, eta = el / (double)(t->b - b0) * (double)(t->nbatches - t->b);
      char         se[32], st[32];
      PdFormatSeconds(el, se, sizeof(se));
      PdFormatSeconds(eta, st, sizeof(st));
      PetscCall(PdWCRRGetPotential(t->model, &mu, NULL, NULL, NULL));
      PetscCall(PetscPrintf(t->comm, "  batch %5" PetscInt_FMT "/%" PetscInt_FMT "  loss %.6e  |grad| %.3e  mu %.4g  FISTA %.1f its  Anderson %.1f evals (res %.1e)  elapsed %s  ETA %s\n", t->b, t->nbatches, loss, sqrt(gn), mu, t->stats[0], t->stats[1],
                            t->stats[2], se, st));
      if (t->val_every > 0 && (t->b % t->val_every == 0 || t->b == t->nbatches)) {
        PetscCall(PdWCRRTrainerValidate(t, &psnr, &psnr0));
        PetscCall(PetscPrintf(t->comm, "  batch %5" PetscInt_FMT "/%" PetscInt_FMT "  validation PSNR %.2f dB at sigma %.4g (noisy %.2f dB)\n", t->b, t->nbatches, psnr, t->val_sigma, psnr0));
      }
    }
    if (stop || (t->checkpoint_every > 0 && t->b % t->checkpoint_every == 0)) PetscCall(CheckpointWrite(t));
    if (stop) break;
  }
  PetscCheck(!stop || t->checkpoint[0], t->comm, PD_ERR_INPUT, "training stopped by a signal after batch %" PetscInt_FMT " with no -train_checkpoint file to save to", t->b);
  if (stopped) *stopped = stop;
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- object */

PetscErrorCode PdWCRRTrainerCreate(MPI_Comm comm, PdWCRR model, PdWCRRTrainer *out)
{
  PdWCRRTrainer t;

  PetscFunctionBegin;
  PetscCall(PetscNew(&t));
  t->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &t->rank));
  PetscCallMPI(MPI_Comm_size(comm, &t->size));
  t->model = model;
  PetscCall(PdWCRRGetParamLayout(model, &t->pl));
  /* the 3D GARL model's settings (docs/methods/wcrr.md §9-§11), with patches and batches sized for CPUs */
  t->patch           = 16;
  t->batch           = 16;
  t->nbatches        = 100;
  t->sigma_max       = 50;
  t->seed            = 42;
  t->lr_conv         = 5e-3;
  t->lr_pot          = 5e-2;
  t->fista_tol       = 1e-4;
  t->fista_max_it    = 15;
  t->anderson_tol    = 1e-3;
  t->anderson_lambda = 1e-4;
  t->anderson_max_it = 5;
  t->anderson_m      = 5;
  t->val_patches     = 8;
  t->val_every       = 10;
  t->val_sigma       = 25;
  t->monitor         = PETSC_FALSE;
  PetscCall(PdAdamCreate(t->pl.n, &t->adam));
  PetscCall(PetscCalloc2(t->pl.n, &t->grad, t->pl.n, &t->lr));
  *out = t;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerSetFromOptions(PdWCRRTrainer t)
{
  PetscReal seed = (PetscReal)t->seed;
  char      ck[PETSC_MAX_PATH_LEN];
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(ck, t->checkpoint, sizeof(ck)));
  PetscOptionsBegin(t->comm, NULL, "Training of the learned regulariser (pdecon train)", "");
  PetscCall(PetscOptionsInt("-train_patch", "Side of the cubic training patches (voxels)", "PdWCRRTrainerSetPatch", t->patch, &t->patch, NULL));
  PetscCall(PetscOptionsInt("-train_batch", "Patches per batch (shared among the ranks)", "PdWCRRTrainerSetPatch", t->batch, &t->batch, NULL));
  PetscCall(PetscOptionsInt("-train_batches", "Batches (Adam steps) in all", "PdWCRRTrainerSetBatches", t->nbatches, &t->nbatches, NULL));
  PetscCall(PetscOptionsReal("-train_sigma_max", "Noise levels sigma ~ U[0, sigma_max], in 1/255 of the data range", "", t->sigma_max, &t->sigma_max, NULL));
  PetscCall(PetscOptionsReal("-train_seed", "Seed of patches and noise", "", seed, &seed, NULL));
  PetscCall(PetscOptionsReal("-train_lr_conv", "Adam learning rate of the convolution weights", "", t->lr_conv, &t->lr_conv, NULL));
  PetscCall(PetscOptionsReal("-train_lr_potential", "Adam learning rate of mu, beta, gamma and the alpha-splines", "", t->lr_pot, &t->lr_pot, NULL));
  PetscCall(PetscOptionsReal("-train_fista_tol", "Denoiser stop: relative change", "", t->fista_tol, &t->fista_tol, NULL));
  PetscCall(PetscOptionsInt("-train_fista_max_it", "Denoiser: most FISTA steps", "", t->fista_max_it, &t->fista_max_it, NULL));
  PetscCall(PetscOptionsReal("-train_anderson_tol", "Backward pass stop: relative residual", "", t->anderson_tol, &t->anderson_tol, NULL));
  PetscCall(PetscOptionsInt("-train_anderson_max_it", "Backward pass: most fixed-point evaluations", "", t->anderson_max_it, &t->anderson_max_it, NULL));
  PetscCall(PetscOptionsInt("-train_anderson_m", "Backward pass: Anderson memory", "", t->anderson_m, &t->anderson_m, NULL));
  PetscCall(PetscOptionsInt("-train_val_patches", "Validation patches", "", t->val_patches, &t->val_patches, NULL));
  PetscCall(PetscOptionsInt("-train_val_every", "Batches between validations (0: none)", "", t->val_every, &t->val_every, NULL));
  PetscCall(PetscOptionsReal("-train_val_sigma", "Noise level of the validation patches", "", t->val_sigma, &t->val_sigma, NULL));
  PetscCall(PetscOptionsBool("-train_monitor", "Print loss, validation PSNR, time and ETA per batch", "", t->monitor, &t->monitor, NULL));
  PetscCall(PetscOptionsString("-train_checkpoint", "Checkpoint file (HDF5; also a model file)", "PdWCRRTrainerSetCheckpoint", ck, ck, sizeof(ck), &set));
  PetscCall(PetscOptionsInt("-train_checkpoint_every", "Batches between checkpoints (0: only on a stop signal)", "PdWCRRTrainerSetCheckpoint", t->checkpoint_every, &t->checkpoint_every, NULL));
  PetscOptionsEnd();
  if (set) PetscCall(PetscStrncpy(t->checkpoint, ck, sizeof(t->checkpoint)));
  t->seed = (unsigned long long)seed;
  PetscCall(PdWCRRTrainerSetPatch(t, t->patch, t->batch));
  PetscCall(PdWCRRTrainerSetBatches(t, t->nbatches));
  PetscCheck(t->sigma_max > 0 && isfinite(t->sigma_max), t->comm, PD_ERR_INPUT, "-train_sigma_max must be positive (got %g)", t->sigma_max);
  PetscCheck(t->lr_conv > 0 && t->lr_pot > 0, t->comm, PD_ERR_INPUT, "-train_lr_conv and -train_lr_potential must be positive");
  PetscCheck(t->fista_max_it >= 1 && t->fista_tol >= 0, t->comm, PD_ERR_INPUT, "-train_fista_max_it must be >= 1 and -train_fista_tol >= 0");
  PetscCheck(t->anderson_max_it >= 2 && t->anderson_m >= 2 && t->anderson_tol >= 0, t->comm, PD_ERR_INPUT, "-train_anderson_max_it and -train_anderson_m must be >= 2");
  PetscCheck(t->val_patches >= 1 && t->val_every >= 0 && t->val_sigma >= 0, t->comm, PD_ERR_INPUT, "-train_val_patches must be >= 1, -train_val_every and -train_val_sigma >= 0");
  PetscCheck(t->checkpoint_every >= 0, t->comm, PD_ERR_INPUT, "-train_checkpoint_every must be >= 0");
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerSetPatch(PdWCRRTrainer t, PetscInt side, PetscInt batch)
{
  PetscFunctionBegin;
  PetscCheck(side >= 7, t->comm, PD_ERR_INPUT, "-train_patch must be at least 7 voxels, the regulariser's filter size (got %" PetscInt_FMT ")", side);
  PetscCheck(batch >= 1, t->comm, PD_ERR_INPUT, "-train_batch must be >= 1 (got %" PetscInt_FMT ")", batch);
  for (int s = 0; s < 2; s++)
    for (PetscInt i = 0; i < t->nvol[s]; i++)
      PetscCheck(t->vol[s][i].n[0] >= side && t->vol[s][i].n[1] >= side && t->vol[s][i].n[2] >= side, t->comm, PD_ERR_INPUT, "%s: volume %td x %td x %td is smaller than the training patch (%" PetscInt_FMT ")", t->vol[s][i].name, t->vol[s][i].n[0],
                 t->vol[s][i].n[1], t->vol[s][i].n[2], side);
  t->patch = side;
  t->batch = batch;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerSetBatches(PdWCRRTrainer t, PetscInt nbatches)
{
  PetscFunctionBegin;
  PetscCheck(nbatches >= 0, t->comm, PD_ERR_INPUT, "-train_batches must be >= 0");
  t->nbatches = nbatches;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerSetCheckpoint(PdWCRRTrainer t, const char *path, PetscInt every)
{
  PetscFunctionBegin;
  PetscCall(PetscStrncpy(t->checkpoint, path ? path : "", sizeof(t->checkpoint)));
  t->checkpoint_every = every;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerAddVolume(PdWCRRTrainer t, const ptrdiff_t n[3], const float *v, const char *name, PetscBool validation)
{
  const int       s = validation ? 1 : 0;
  const ptrdiff_t N = n[0] * n[1] * n[2];
  Volume         *V;
  double          mx = 0;

  PetscFunctionBegin;
  PetscCheck(n[0] >= t->patch && n[1] >= t->patch && n[2] >= t->patch, t->comm, PD_ERR_INPUT, "%s: volume %td x %td x %td is smaller than the training patch (%" PetscInt_FMT ")", name, n[0], n[1], n[2], t->patch);
  for (ptrdiff_t i = 0; i < N; i++) mx = PetscMax(mx, (double)v[i]);
  PetscCheck(mx > 0, t->comm, PD_ERR_INPUT, "%s: the volume has no positive value to train on", name);
  PetscCall(PetscRealloc(sizeof(Volume) * (size_t)(t->nvol[s] + 1), &t->vol[s]));
  V = &t->vol[s][t->nvol[s]++];
  for (int d = 0; d < 3; d++) V->n[d] = n[d];
  PetscCall(PetscStrncpy(V->name, name, sizeof(V->name)));
  PetscCall(PetscMalloc1(N, &V->v));
  /* scaled to max 1, negatives (background subtraction) kept */
  for (ptrdiff_t i = 0; i < N; i++) V->v[i] = (float)(v[i] / mx);
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerGetBatch(PdWCRRTrainer t, PetscInt *b)
{
  PetscFunctionBegin;
  *b = t->b;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerView(PdWCRRTrainer t, PetscViewer v)
{
  PetscInt ch[3];
  double   mu, beta, ge, L;

  PetscFunctionBegin;
  PetscCall(PdWCRRGetChannels(t->model, ch));
  PetscCall(PdWCRRGetPotential(t->model, &mu, &beta, &ge, &L));
  PetscCall(PetscViewerASCIIPrintf(v, "WCRR training: channels 1-%" PetscInt_FMT "-%" PetscInt_FMT "-%" PetscInt_FMT " (%" PetscInt_FMT " parameters), mu %.6g, beta %.6g, gamma_e %.6g, L %.6g\n", ch[0], ch[1], ch[2], t->pl.n, mu, beta, ge, L));
  PetscCall(PetscViewerASCIIPrintf(v, "  %" PetscInt_FMT " training and %" PetscInt_FMT " validation volumes; patches %" PetscInt_FMT "^3, %" PetscInt_FMT " per batch over %d ranks, batches %" PetscInt_FMT " to %" PetscInt_FMT ", sigma ~ U[0, %.4g]\n", t->nvol[0], t->nvol[1], t->patch, t->batch,
                                   t->size, t->b, t->nbatches, t->sigma_max));
  PetscCall(PetscViewerASCIIPrintf(v, "  denoiser FISTA (restart) tol %.3g, <= %" PetscInt_FMT " its; backward Anderson m %" PetscInt_FMT ", tol %.3g, <= %" PetscInt_FMT " evals; Adam lr %.3g (conv), %.3g (potential)\n", t->fista_tol, t->fista_max_it, t->anderson_m,
                                   t->anderson_tol, t->anderson_max_it, t->lr_conv, t->lr_pot));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRTrainerDestroy(PdWCRRTrainer *tp)
{
  PdWCRRTrainer t = *tp;

  PetscFunctionBegin;
  if (!t) PetscFunctionReturn(0);
  for (int s = 0; s < 2; s++) {
    for (PetscInt i = 0; i < t->nvol[s]; i++) PetscCall(PetscFree(t->vol[s][i].v));
    PetscCall(PetscFree(t->vol[s]));
  }
  PetscCall(PdAdamDestroy(&t->adam));
  PetscCall(PetscFree2(t->grad, t->lr));
  PetscCall(PetscFree(t));
  *tp = NULL;
  PetscFunctionReturn(0);
}
