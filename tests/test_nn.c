/* The CNN engine (nn.h): convolution against a direct 7-loop computation in double (2D and 3D,
   odd sizes, stride 1 and 2, "same", "valid" and explicit padding, several bands of im2col,
   folded x-taps); the FFT path of inference (tiles, k 5 to 9, new weights, threads) against the
   same direct sum, and Isonet-1 and Isonet-2 forwards on it against the direct backend; every
   layer's backward against central finite differences of ⟨r, f(x)⟩ along
   random directions, for the input and the parameter gradients; upsampling's and transposed
   convolution's adjoint identities; threads (1 against 2), two works, a frozen network and
   inference mode (buffer reuse) against training mode; losses against hand-computed values and
   finite differences; one and two steps of SGD and Adam (both forms) against the formulas;
   initialisers' spreads and bounds; model files: round trip bit for bit with Adam and SGD state
   and metadata, and the bad files (missing, not HDF5, another model kind, another shape or layer
   kind, more layers, no optimiser state, NaN) giving one error. */
/* ranks: 1 2 */
#include "testutil.h"
#include <pdecon/learn/nn.h>
#include <pdecon/learn/cnn.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

static unsigned long long seed = 12345;

static void Random(float *v, PetscInt n, double lo, double hi)
{
  for (PetscInt i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * PdTestUniform(&seed));
}

/* Values with |v| in [margin, 1] and a random sign: away from the activations' kinks. */
static void RandomAwayFromZero(float *v, PetscInt n, double margin)
{
  for (PetscInt i = 0; i < n; i++) {
    const double u = margin + (1 - margin) * PdTestUniform(&seed);
    v[i]           = (float)(PdTestUniform(&seed) < 0.5 ? -u : u);
  }
}

static double Dot(const float *a, const float *b, PetscInt n)
{
  double s = 0;
  for (PetscInt i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* Σ |a_i b_i|: the size of a dot product without its cancellations, the scale of its rounding. */
static double AbsDot(const float *a, const float *b, PetscInt n)
{
  double s = 0;
  for (PetscInt i = 0; i < n; i++) s += fabs((double)a[i] * b[i]);
  return s;
}

/* ---------------------------------------------------------------- direct convolution */

/* out[n,o,z,y,x] = b[o] + Σ_i Σ_k W[o,i,k] in[n,i, z·s+kz−p, y·s+ky−p, x·s+kx−p], in double;
   2D: kd = 1, pd = 0. */
static void RefConv(const PdTensor *in, PetscInt co, PetscInt k, PetscInt s, PetscInt p, PetscInt dims, const float *w, const float *b, const PdTensor *out, double *ref)
{
  const PetscInt kd = dims == 3 ? k : 1, sd = dims == 3 ? s : 1, pd = dims == 3 ? p : 0, ci = in->c;

  for (PetscInt n = 0; n < in->n; n++)
    for (PetscInt o = 0; o < co; o++)
      for (PetscInt z = 0; z < out->d; z++)
        for (PetscInt y = 0; y < out->h; y++)
          for (PetscInt x = 0; x < out->w; x++) {
            double v = b ? b[o] : 0;
            for (PetscInt i = 0; i < ci; i++)
              for (PetscInt dz = 0; dz < kd; dz++)
                for (PetscInt dy = 0; dy < k; dy++)
                  for (PetscInt dx = 0; dx < k; dx++) {
                    const PetscInt zz = z * sd + dz - pd, yy = y * s + dy - p, xx = x * s + dx - p;
                    if (zz < 0 || zz >= in->d || yy < 0 || yy >= in->h || xx < 0 || xx >= in->w) continue;
                    v += (double)w[(((o * ci + i) * kd + dz) * k + dy) * k + dx] * in->v[(((n * ci + i) * in->d + zz) * in->h + yy) * in->w + xx];
                  }
            ref[(((n * co + o) * out->d + z) * out->h + y) * out->w + x] = v;
          }
}

static PetscErrorCode TestConvDirect(PetscInt dims, PetscInt n, PetscInt ci, PetscInt co, PetscInt k, PetscInt s, PetscInt pad, const PetscInt sz[3], PetscBool bias)
{
  PdNN     net;
  PdTensor x, y;
  float   *th;
  double  *ref, err = 0, nrm = 0;
  PetscInt np, ex[5];

  PetscFunctionBegin;
  PetscCall(PdNNCreate(dims, &net));
  PetscCall(PdNNAddConv(net, "c", ci, co, k, s, pad, bias));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNGetParams(net, &th, &np));
  Random(th, np, -1, 1);
  PetscCall(PdTensorAlloc(n, ci, sz[0], sz[1], sz[2], &x));
  Random(x.v, PdTensorSize(&x), -1, 1);
  PetscCall(PdNNForward(net, NULL, &x, &y));
  {
    const PetscInt p = pad == PD_NN_SAME ? (k - 1) / 2 : pad;
    ex[2]            = dims == 3 ? (sz[0] + 2 * p - k) / s + 1 : 1;
    ex[3]            = (sz[1] + 2 * p - k) / s + 1;
    ex[4]            = (sz[2] + 2 * p - k) / s + 1;
    PD_EXPECT(y.n == n && y.c == co && y.d == ex[2] && y.h == ex[3] && y.w == ex[4], "conv %" PetscInt_FMT "D k%" PetscInt_FMT " s%" PetscInt_FMT ": output %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, dims, k, s, y.d, y.h, y.w);
    PetscCall(PetscMalloc1(PdTensorSize(&y), &ref));
    RefConv(&x, co, k, s, p, dims, th, bias ? th + co * ci * (dims == 3 ? k * k * k : k * k) : NULL, &y, ref);
  }
  for (PetscInt i = 0; i < PdTensorSize(&y); i++) {
    err += (y.v[i] - ref[i]) * (y.v[i] - ref[i]);
    nrm += ref[i] * ref[i];
  }
  PD_EXPECT(sqrt(err / nrm) < 1e-6, "conv %" PetscInt_FMT "D ci %" PetscInt_FMT " co %" PetscInt_FMT " k %" PetscInt_FMT " s %" PetscInt_FMT " pad %" PetscInt_FMT ": relative error %.3g against the direct sum", dims, ci, co, k, s, pad, sqrt(err / nrm));
  PetscCall(PetscFree(ref));
  PetscCall(PdTensorFree(&x));
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- FFT convolution */

/* Relative RMS difference of a float array against a double one. */
static double RelDiff(const float *y, const double *ref, PetscInt n)
{
  double err = 0, nrm = 0;
  for (PetscInt i = 0; i < n; i++) {
    err += (y[i] - ref[i]) * (y[i] - ref[i]);
    nrm += ref[i] * ref[i];
  }
  return sqrt(err / nrm);
}

/* The FFT path (an inference work, backend fft) against the direct sum in double, with output
   tiles of side tile (-nn_fft_tile); then again after new weights (the cached spectra must
   follow); on 2 threads, bit for bit as on one; and the last sample alone, bit for bit as in the
   batch (a rank's share of a batch gives the bits of the whole batch). */
static PetscErrorCode TestConvFft(PetscInt n, PetscInt ci, PetscInt co, PetscInt k, PetscInt pad, PetscInt h, PetscInt w, PetscInt tile)
{
  PdNN           net;
  PdNNWork       work;
  PdTensor       x, y;
  float         *th, *y1;
  double        *ref, e[3];
  char           ts[16];
  const PetscInt p  = pad == PD_NN_SAME ? (k - 1) / 2 : pad;
  const int      nt = omp_get_max_threads();
  PetscBool      threads_same, alone_same;
  PdTensor       x1;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(ts, sizeof(ts), "%" PetscInt_FMT, tile));
  PetscCall(PetscOptionsSetValue(NULL, "-nn_fft_tile", ts));
  PetscCall(PdNNBackendSetFromOptions(PETSC_COMM_SELF));
  PetscCall(PdNNCreate(2, &net));
  PetscCall(PdNNAddConv(net, "c", ci, co, k, 1, pad, PETSC_TRUE));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNSetBackend(net, PD_NN_BACKEND_FFT));
  PetscCall(PdNNWorkCreate(net, &work));
  PetscCall(PdNNWorkSetTraining(work, PETSC_FALSE));
  PetscCall(PdNNGetParams(net, &th, NULL));
  PetscCall(PdTensorAlloc(n, ci, 1, h, w, &x));
  Random(x.v, PdTensorSize(&x), -1, 1);
  PetscCall(PetscMalloc1(n * co * (h + 2 * p - k + 1) * (w + 2 * p - k + 1), &ref));
  PetscCall(PetscMalloc1(n * co * (h + 2 * p - k + 1) * (w + 2 * p - k + 1), &y1));
  for (int pass = 0; pass < 3; pass++) {
    if (pass < 2) Random(th, co * ci * k * k + co, -1, 1);
    omp_set_num_threads(pass == 2 ? 2 : 1);
    PetscCall(PdNNForward(net, work, &x, &y));
    if (pass < 2) RefConv(&x, co, k, 1, p, 2, th, th + co * ci * k * k, &y, ref);
    e[pass] = RelDiff(y.v, ref, PdTensorSize(&y));
    if (pass == 1) PetscCall(PetscArraycpy(y1, y.v, PdTensorSize(&y)));
  }
  threads_same = (PetscBool)!memcmp(y.v, y1, (size_t)PdTensorSize(&y) * sizeof(float));
  omp_set_num_threads(nt);
  x1 = PdTensorSample(&x, n - 1);
  PetscCall(PdNNForward(net, work, &x1, &y));
  alone_same = (PetscBool)!memcmp(y.v, y1 + (n - 1) * PdTensorSize(&y), (size_t)PdTensorSize(&y) * sizeof(float));
  PetscCall(PetscFree(y1));
  PD_EXPECT(y.h == h + 2 * p - k + 1 && y.w == w + 2 * p - k + 1, "conv fft: output %" PetscInt_FMT "x%" PetscInt_FMT, y.h, y.w);
  PD_EXPECT(e[0] < 1e-5 && e[1] < 1e-5 && e[2] < 1e-5, "conv fft n %" PetscInt_FMT " ci %" PetscInt_FMT " co %" PetscInt_FMT " k %" PetscInt_FMT " pad %" PetscInt_FMT " %" PetscInt_FMT "x%" PetscInt_FMT " tile %" PetscInt_FMT ": relative error %.3g, %.3g after new weights, %.3g on 2 threads", n, ci, co, k, pad, h, w, tile, e[0], e[1], e[2]);
  PD_EXPECT(threads_same && alone_same, "conv fft n %" PetscInt_FMT " ci %" PetscInt_FMT " co %" PetscInt_FMT " k %" PetscInt_FMT ": %s", n, ci, co, k, !threads_same ? "2 threads differ from 1" : "the last sample alone differs from the batch");
  PetscCall(PetscFree(ref));
  PetscCall(PdTensorFree(&x));
  PetscCall(PdNNWorkDestroy(&work));
  PetscCall(PdNNDestroy(&net));
  PetscCall(PetscOptionsClearValue(NULL, "-nn_fft_tile"));
  PetscCall(PdNNBackendSetFromOptions(PETSC_COMM_SELF));
  PetscFunctionReturn(0);
}

/* Whole networks at inference, backend fft against the direct backend of the build (dnnl where
   it has it, else blas): Isonet-1 and Isonet-2 on a batch of patches and on an image that the
   FFT path cuts into tiles, alternately on one work (its two cached shapes); and a second work,
   with plans of its own, bit for bit equal to the first. */
static PetscErrorCode TestNetworkFft(PetscInt version)
{
  PdNN           net;
  PdNNWork       wd, wf, w2;
  PdTensor       x[2], yd, yf, y2;
  const PetscInt sz[2][2] = {{4, 64}, {1, 148}};
  double         e[2][2];
  PetscBool      same = PETSC_TRUE;

  PetscFunctionBegin;
  PetscCall(PdIsonetCreate(version, 7, &net));
  PetscCall(PdNNWorkCreate(net, &wd));
  PetscCall(PdNNWorkCreate(net, &wf));
  PetscCall(PdNNWorkCreate(net, &w2));
  PetscCall(PdNNWorkSetTraining(wd, PETSC_FALSE));
  PetscCall(PdNNWorkSetTraining(wf, PETSC_FALSE));
  PetscCall(PdNNWorkSetTraining(w2, PETSC_FALSE));
  for (int s = 0; s < 2; s++) {
    PetscCall(PdTensorAlloc(sz[s][0], 1, 1, sz[s][1], sz[s][1] + 4 * s, &x[s]));
    Random(x[s].v, PdTensorSize(&x[s]), 0, 1);
  }
  for (int rep = 0; rep < 2; rep++)
    for (int s = 0; s < 2; s++) {
      double *ref;
      PetscCall(PdNNSetBackend(net, PdNNBackendAvailable(PD_NN_BACKEND_DNNL) ? PD_NN_BACKEND_DNNL : PD_NN_BACKEND_BLAS));
      PetscCall(PdNNForward(net, wd, &x[s], &yd));
      PetscCall(PdNNSetBackend(net, PD_NN_BACKEND_FFT));
      PetscCall(PdNNForward(net, wf, &x[s], &yf));
      PetscCall(PetscMalloc1(PdTensorSize(&yd), &ref));
      for (PetscInt i = 0; i < PdTensorSize(&yd); i++) ref[i] = yd.v[i];
      e[rep][s] = RelDiff(yf.v, ref, PdTensorSize(&yd));
      PetscCall(PetscFree(ref));
      /* a work that made its own plans gives the same bits (what another rank computes) */
      PetscCall(PdNNForward(net, w2, &x[s], &y2));
      PetscCall(PdNNForward(net, wf, &x[s], &yf));
      if (memcmp(y2.v, yf.v, (size_t)PdTensorSize(&yf) * sizeof(float))) same = PETSC_FALSE;
    }
  PD_EXPECT(e[0][0] < 1e-5 && e[0][1] < 1e-5 && e[1][0] < 1e-5 && e[1][1] < 1e-5, "Isonet-%" PetscInt_FMT " forward, fft against the direct backend: relative difference %.3g (4 x 64^2), %.3g (148 x 152), again %.3g, %.3g", version, e[0][0], e[0][1], e[1][0], e[1][1]);
  PD_EXPECT(same, "Isonet-%" PetscInt_FMT " forward on fft: two works differ", version);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Isonet-%" PetscInt_FMT " forward, fft against the direct backend: relative difference %.3g (4 x 64^2), %.3g (148 x 152)\n", version, e[0][0], e[0][1]));
  for (int s = 0; s < 2; s++) PetscCall(PdTensorFree(&x[s]));
  PetscCall(PdNNWorkDestroy(&wd));
  PetscCall(PdNNWorkDestroy(&wf));
  PetscCall(PdNNWorkDestroy(&w2));
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- finite differences */

typedef enum { INPUT_UNIFORM, INPUT_AWAY_FROM_ZERO, INPUT_DISTINCT } InputKind;

/* ⟨r, f(x)⟩ in double */
static PetscErrorCode Functional(PdNN net, const PdTensor *x, const float *r, double *L)
{
  PdTensor y;

  PetscFunctionBegin;
  PetscCall(PdNNForward(net, NULL, x, &y));
  *L = Dot(y.v, r, PdTensorSize(&y));
  PetscFunctionReturn(0);
}

/* Checks dL/dx and dL/dθ of L = ⟨r, f(x)⟩ along random directions against central differences
   with step h, to tol relative to Σ|∂L/∂x_i · v_i|; the input drawn by kind. */
static PetscErrorCode CheckGradients(PdNN net, const char *what, const PetscInt shape[5], InputKind kind, double h, double tol)
{
  PdTensor x, y, dx, v, rt;
  float   *r, *th, *g, *gsave, *dir;
  PetscInt np, ny;
  double   an, fd, Lp, Lm;

  PetscFunctionBegin;
  PetscCall(PdTensorAlloc(shape[0], shape[1], shape[2], shape[3], shape[4], &x));
  PetscCall(PdTensorAlloc(shape[0], shape[1], shape[2], shape[3], shape[4], &v));
  if (kind == INPUT_UNIFORM) Random(x.v, PdTensorSize(&x), -1, 1);
  else if (kind == INPUT_AWAY_FROM_ZERO) RandomAwayFromZero(x.v, PdTensorSize(&x), 0.1);
  else
    /* distinct values 0.05 apart in a random order: no tie and no arg-max change within ±h */
    for (PetscInt i = 0; i < PdTensorSize(&x); i++) {
      PetscInt j = (PetscInt)(PdTestUniform(&seed) * (double)(i + 1));
      x.v[i]     = x.v[j];
      x.v[j]     = 0.05f * (float)i;
    }
  PetscCall(PdNNGetParams(net, &th, &np));
  PetscCall(PdNNGetGrads(net, &g, NULL));
  PetscCall(PdNNForward(net, NULL, &x, &y));
  ny = PdTensorSize(&y);
  PetscCall(PetscMalloc3(ny, &r, PetscMax(np, 1), &gsave, PetscMax(np, 1), &dir));
  Random(r, ny, -1, 1);
  rt = PdTensorView(y.n, y.c, y.d, y.h, y.w, r);
  PetscCall(PdNNZeroGrads(net));
  PetscCall(PdNNBackward(net, NULL, &rt, &dx));
  PetscCall(PdTensorAlloc(x.n, x.c, x.d, x.h, x.w, &y)); /* y: a copy of dL/dx */
  PetscCall(PetscArraycpy(y.v, dx.v, PdTensorSize(&x)));
  if (np) PetscCall(PetscArraycpy(gsave, g, np));
  /* a second backward pass adds the same parameter gradient again */
  PetscCall(PdNNBackward(net, NULL, &rt, NULL));
  for (PetscInt i = 0; i < np; i++) PD_EXPECT(fabsf(g[i] - 2 * gsave[i]) <= 1e-6f * (1 + fabsf(gsave[i])), "%s: the second backward pass did not add its gradient", what);

  /* input */
  Random(v.v, PdTensorSize(&v), -1, 1);
  an = Dot(y.v, v.v, PdTensorSize(&x));
  for (PetscInt i = 0; i < PdTensorSize(&x); i++) x.v[i] += (float)h * v.v[i];
  PetscCall(Functional(net, &x, r, &Lp));
  for (PetscInt i = 0; i < PdTensorSize(&x); i++) x.v[i] -= 2 * (float)h * v.v[i];
  PetscCall(Functional(net, &x, r, &Lm));
  for (PetscInt i = 0; i < PdTensorSize(&x); i++) x.v[i] += (float)h * v.v[i];
  fd = (Lp - Lm) / (2 * h);
  PD_EXPECT(fabs(fd - an) <= tol * AbsDot(y.v, v.v, PdTensorSize(&x)) + 1e-6, "%s: dL/dx·v %.8g, finite differences %.8g", what, an, fd);

  /* parameters */
  if (np) {
    Random(dir, np, -1, 1);
    an = Dot(gsave, dir, np);
    for (PetscInt i = 0; i < np; i++) th[i] += (float)h * dir[i];
    PetscCall(Functional(net, &x, r, &Lp));
    for (PetscInt i = 0; i < np; i++) th[i] -= 2 * (float)h * dir[i];
    PetscCall(Functional(net, &x, r, &Lm));
    for (PetscInt i = 0; i < np; i++) th[i] += (float)h * dir[i];
    fd = (Lp - Lm) / (2 * h);
    PD_EXPECT(fabs(fd - an) <= tol * AbsDot(gsave, dir, np) + 1e-6, "%s: dL/dθ·v %.8g, finite differences %.8g", what, an, fd);
  }
  PetscCall(PetscFree3(r, gsave, dir));
  PetscCall(PdTensorFree(&x));
  PetscCall(PdTensorFree(&y));
  PetscCall(PdTensorFree(&v));
  PetscFunctionReturn(0);
}

/* Sets up, draws the parameters (biases too) and checks the gradients. */
static PetscErrorCode Check(PdNN net, const char *what, const PetscInt shape[5], InputKind kind, double h, double tol)
{
  float   *th;
  PetscInt np;

  PetscFunctionBegin;
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNGetParams(net, &th, &np));
  Random(th, np, -0.5, 0.5);
  PetscCall(CheckGradients(net, what, shape, kind, h, tol));
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestLayerGradients(void)
{
  PdNN     net;
  PetscInt e1;

  PetscFunctionBegin;
  /* convolutions: linear, so any step; odd sizes, stride 2, even kernels */
  {
    const struct {
      PetscInt dims, ci, co, k, s, pad, shape[5];
    } c[] = {
      {2, 2, 3, 3, 1, PD_NN_SAME, {2, 2, 1, 7, 9}},
      {2, 2, 3, 3, 2, 1, {2, 2, 1, 9, 7}},
      {2, 2, 2, 5, 1, PD_NN_VALID, {1, 2, 1, 9, 11}},
      {2, 3, 2, 1, 1, PD_NN_SAME, {2, 3, 1, 5, 6}},
      {2, 2, 3, 4, 2, 2, {1, 2, 1, 9, 8}},
      {3, 2, 3, 3, 1, PD_NN_SAME, {2, 2, 5, 6, 7}},
      {3, 2, 2, 3, 2, 1, {1, 2, 7, 5, 6}},
      {3, 2, 2, 4, 2, 1, {1, 2, 8, 7, 6}},
      {3, 3, 2, 1, 1, PD_NN_VALID, {2, 3, 3, 4, 5}},
      /* x-taps folded into shifted SGEMMs (stride 1, cin·k^(dims−1) >= 16) */
      {2, 8, 3, 3, 1, PD_NN_SAME, {2, 8, 1, 7, 9}},
      {2, 6, 2, 5, 1, PD_NN_VALID, {1, 6, 1, 9, 11}},
      {2, 8, 2, 3, 1, 2, {2, 8, 1, 5, 6}},
      {3, 4, 3, 3, 1, PD_NN_SAME, {2, 4, 5, 6, 7}},
      {3, 4, 2, 4, 1, 1, {1, 4, 5, 6, 7}},
      /* channels enough for backend auto's oneDNN choice */
      {2, 16, 16, 5, 1, PD_NN_SAME, {2, 16, 1, 7, 9}},
      {3, 16, 16, 3, 2, 1, {1, 16, 5, 6, 7}},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
      char what[64];
      PetscCall(PetscSNPrintf(what, sizeof(what), "conv %" PetscInt_FMT "D k%" PetscInt_FMT " s%" PetscInt_FMT, c[i].dims, c[i].k, c[i].s));
      PetscCall(PdNNCreate(c[i].dims, &net));
      PetscCall(PdNNAddConv(net, "c", c[i].ci, c[i].co, c[i].k, c[i].s, c[i].pad, PETSC_TRUE));
      PetscCall(Check(net, what, c[i].shape, INPUT_UNIFORM, 0.1, 1e-4));
    }
  }
  for (PetscInt dims = 2; dims <= 3; dims++) {
    const PetscInt s2[5] = {2, 3, 1, 3, 4}, s3[5] = {1, 2, 3, 2, 3}, p2[5] = {2, 2, 1, 7, 9}, p3[5] = {1, 2, 5, 7, 6};
    const PetscInt *sh = dims == 2 ? s2 : s3, *ps = dims == 2 ? p2 : p3;

    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddConvTranspose2(net, "t", sh[1], 2, PETSC_TRUE));
    PetscCall(Check(net, dims == 2 ? "transposed conv 2D" : "transposed conv 3D", sh, INPUT_UNIFORM, 0.1, 1e-4));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddReLU(net, "a"));
    PetscCall(Check(net, "ReLU", ps, INPUT_AWAY_FROM_ZERO, 1e-3, 1e-4));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddLeakyReLU(net, "a", 0.2));
    PetscCall(Check(net, "LeakyReLU", ps, INPUT_AWAY_FROM_ZERO, 1e-3, 1e-4));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddSigmoid(net, "a"));
    PetscCall(Check(net, "sigmoid", ps, INPUT_UNIFORM, 1e-2, 1e-3));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddMaxPool2(net, "p"));
    PetscCall(Check(net, "max-pool", ps, INPUT_DISTINCT, 1e-2, 1e-3));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddUpsample2(net, "u"));
    PetscCall(Check(net, "upsample", ps, INPUT_UNIFORM, 0.1, 1e-4));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddInstanceNorm(net, "n"));
    PetscCall(Check(net, "instance norm", ps, INPUT_UNIFORM, 1e-2, 2e-3));
    /* skips: the input read by two layers; one output read twice by one layer */
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddConv(net, "c", 2, 3, 3, 1, PD_NN_SAME, PETSC_TRUE));
    PetscCall(PdNNAddConcat(net, "cat", PD_NN_INPUT));
    PetscCall(Check(net, "concat", ps, INPUT_UNIFORM, 0.1, 1e-4));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddConv(net, "c", 2, 2, 3, 1, PD_NN_SAME, PETSC_TRUE));
    PetscCall(PdNNAddResidual(net, "res", PD_NN_INPUT));
    PetscCall(Check(net, "residual", ps, INPUT_UNIFORM, 0.1, 1e-4));
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddConv(net, "c", 2, 2, 3, 1, PD_NN_SAME, PETSC_TRUE));
    PetscCall(PdNNGetLast(net, &e1));
    PetscCall(PdNNAddResidual(net, "twice", e1));
    PetscCall(Check(net, "residual of an output with itself", ps, INPUT_UNIFORM, 0.1, 1e-4));
  }
  PetscFunctionReturn(0);
}

/* Average pooling on a 3×3 ramp against hand-computed means (the padding not counted): the
   corner window holds 4 values, the centre of the 5-wide axis 3. */
static PetscErrorCode TestAvgPool(void)
{
  PdNN     net;
  PdTensor x, y;
  float    v[15];

  PetscFunctionBegin;
  for (int i = 0; i < 15; i++) v[i] = (float)i;
  x = PdTensorView(1, 1, 1, 3, 5, v); /* rows 0..2, columns 0..4 */
  PetscCall(PdNNCreate(2, &net));
  PetscCall(PdNNAddAvgPool3(net, "p"));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNForward(net, NULL, &x, &y));
  PD_EXPECT(y.h == 2 && y.w == 3, "average pool: output %" PetscInt_FMT " x %" PetscInt_FMT ", expected 2 x 3", y.h, y.w);
  /* (0,0): rows 0-1, cols 0-1 → (0+1+5+6)/4; (1,1): rows 1-2, cols 1-3 → mean 9.5; (0,2): rows 0-1, cols 3-4 → (3+4+8+9)/4 */
  PD_EXPECT(fabsf(y.v[0] - 3.0f) < 1e-6f && fabsf(y.v[4] - 9.5f) < 1e-6f && fabsf(y.v[2] - 6.0f) < 1e-6f, "average pool: %g %g %g, expected 3 9.5 6", (double)y.v[0], (double)y.v[4], (double)y.v[2]);
  PetscCall(PdNNDestroy(&net));
  /* backward against finite differences, odd and even sizes */
  for (PetscInt dims = 2; dims <= 3; dims++) {
    const PetscInt s2[5] = {2, 2, 1, 7, 8}, s3[5] = {1, 2, 5, 6, 7};
    PetscCall(PdNNCreate(dims, &net));
    PetscCall(PdNNAddAvgPool3(net, "p"));
    PetscCall(Check(net, dims == 2 ? "average pool 2D" : "average pool 3D", dims == 2 ? s2 : s3, INPUT_UNIFORM, 0.1, 1e-4));
  }
  PetscFunctionReturn(0);
}

/* A small U-Net with every layer kind: conv, ReLU, pool, conv, upsample, concat, conv, instance
   norm, LeakyReLU, transposed conv, stride-2 conv, sigmoid, residual with the input (smooth:
   sigmoids for ReLU and LeakyReLU, a k2 s2 conv for the pool). Input channels 1, even sizes. */
static PetscErrorCode UNet(PetscInt dims, PetscBool smooth, PetscInt width, PdNN *net)
{
  PetscInt e1;

  PetscFunctionBegin;
  PetscCall(PdNNCreate(dims, net));
  PetscCall(PdNNAddConv(*net, "c1", 1, 4, 3, 1, PD_NN_SAME, PETSC_TRUE));
  if (smooth) PetscCall(PdNNAddSigmoid(*net, "r1"));
  else PetscCall(PdNNAddReLU(*net, "r1"));
  PetscCall(PdNNGetLast(*net, &e1));
  if (smooth) PetscCall(PdNNAddConv(*net, "p1", 4, 4, 2, 2, PD_NN_VALID, PETSC_FALSE));
  else PetscCall(PdNNAddMaxPool2(*net, "p1"));
  PetscCall(PdNNAddConv(*net, "c2", 4, width, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNAddUpsample2(*net, "u1"));
  PetscCall(PdNNAddConcat(*net, "cat1", e1));
  PetscCall(PdNNAddConv(*net, "c3", 4 + width, 3, 3, 1, PD_NN_SAME, PETSC_FALSE));
  PetscCall(PdNNAddInstanceNorm(*net, "n3"));
  if (smooth) PetscCall(PdNNAddSigmoid(*net, "l3"));
  else PetscCall(PdNNAddLeakyReLU(*net, "l3", 0.2));
  PetscCall(PdNNAddConvTranspose2(*net, "t4", 3, 2, PETSC_TRUE));
  PetscCall(PdNNAddConv(*net, "c5", 2, 1, 3, 2, 1, PETSC_TRUE));
  PetscCall(PdNNAddSigmoid(*net, "s5"));
  PetscCall(PdNNAddResidual(*net, "res", PD_NN_INPUT));
  PetscCall(PdNNSetUp(*net));
  PetscCall(PdNNInitialize(*net, PD_NN_INIT_GLOROT_UNIFORM, 0, 7));
  PetscFunctionReturn(0);
}

static PetscErrorCode MiniUNet(PetscInt dims, PdNN *net) { return UNet(dims, PETSC_FALSE, 6, net); }

static PetscErrorCode TestNetwork(void)
{
  for (PetscInt dims = 2; dims <= 3; dims++) {
    const PetscInt s2[5] = {2, 1, 1, 8, 12}, s3[5] = {2, 1, 4, 8, 4};
    PdNN           net;
    float         *th;
    PetscInt       np;

    PetscFunctionBegin;
    PetscCall(UNet(dims, PETSC_TRUE, 6, &net));
    PetscCall(PdNNGetParams(net, &th, &np));
    for (PetscInt i = 0; i < np; i++) th[i] += 0.01f * (float)(i % 7); /* biases not 0 */
    /* smooth (sigmoids, a stride-2 conv for the pooling): the kinks of ReLU and max-pool, each
       checked alone above, would spoil differences over thousands of activations */
    PetscCall(CheckGradients(net, dims == 2 ? "U-Net 2D" : "U-Net 3D", dims == 2 ? s2 : s3, INPUT_UNIFORM, 2e-3, 1e-3));
    PetscCall(PdNNDestroy(&net));
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- receptive field */

/* A U-Net of the given depth without instance normalisation (its statistics span the whole input):
   per level two 3-convs and a max-pool down, an upsampling (nearest at level 0, transposed conv
   deeper) up, the concat and one 3-conv; leaky ReLUs so that a change passes every layer. */
static PetscErrorCode PlainUNet(PetscInt dims, PetscInt depth, PdNN *net)
{
  const PetscInt w = 3;
  PetscInt       e[4];
  char           nm[16];

  PetscFunctionBegin;
  PetscCall(PdNNCreate(dims, net));
  for (PetscInt l = 0; l <= depth; l++) {
    if (l > 0) {
      PetscCall(PetscSNPrintf(nm, sizeof(nm), "p%d", (int)l));
      PetscCall(PdNNAddMaxPool2(*net, nm));
    }
    for (int c = 0; c < 2; c++) {
      PetscCall(PetscSNPrintf(nm, sizeof(nm), "e%d%d", (int)l, c));
      PetscCall(PdNNAddConv(*net, nm, (l == 0 && c == 0) ? 1 : w, w, 3, 1, PD_NN_SAME, PETSC_TRUE));
      PetscCall(PetscSNPrintf(nm, sizeof(nm), "a%d%d", (int)l, c));
      PetscCall(PdNNAddLeakyReLU(*net, nm, 0.1));
    }
    PetscCall(PdNNGetLast(*net, &e[l]));
  }
  for (PetscInt l = depth - 1; l >= 0; l--) {
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "u%d", (int)l));
    if (l == 0) PetscCall(PdNNAddUpsample2(*net, nm));
    else PetscCall(PdNNAddConvTranspose2(*net, nm, w, w, PETSC_TRUE));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "cat%d", (int)l));
    PetscCall(PdNNAddConcat(*net, nm, e[l]));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "d%d", (int)l));
    PetscCall(PdNNAddConv(*net, nm, 2 * w, w, 3, 1, PD_NN_SAME, PETSC_TRUE));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "b%d", (int)l));
    PetscCall(PdNNAddLeakyReLU(*net, nm, 0.1));
  }
  PetscCall(PdNNAddConv(*net, "out", w, 1, 1, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNSetUp(*net));
  PetscCall(PdNNInitialize(*net, PD_NN_INIT_GLOROT_UNIFORM, 0, 11));
  PetscFunctionReturn(0);
}

/* The radius PdNNGetReceptiveField gives equals the farthest reach of a change: one input voxel
   moved by ±5 (so that it wins its max-pools) at every position within the coarsest blocks; an
   output voxel it does not reach is computed from the same numbers, so "changed" is exact. */
static PetscErrorCode TestReceptiveField(PetscInt dims, PetscInt depth)
{
  const PetscInt L = 56, d = dims == 3 ? L : 1, c = L / 2 - 4;
  PetscInt       r[3], q, reach[3] = {0, 0, 0};
  PdNN           net;
  PdTensor       x, y;
  float         *in, *base;

  PetscFunctionBegin;
  PetscCall(PlainUNet(dims, depth, &net));
  PetscCall(PdNNGetReceptiveField(net, r, &q));
  PD_EXPECT(q == 1 << depth, "U-Net depth %" PetscInt_FMT ": side multiple %" PetscInt_FMT, depth, q);
  PetscCall(PetscMalloc2(d * L * L, &in, d * L * L, &base));
  Random(in, d * L * L, 0, 1);
  x = PdTensorView(1, 1, d, L, L, in);
  PetscCall(PdNNForward(net, NULL, &x, &y));
  PetscCall(PetscArraycpy(base, y.v, d * L * L));
  for (PetscInt ph = 0; ph < q; ph++)
    for (int sg = -1; sg <= 1; sg += 2) {
      const PetscInt  pz = dims == 3 ? c + ph : 0, p = c + ph, at = (pz * L + p) * L + p;
      const float     keep = in[at];
      in[at] += 5.0f * (float)sg;
      PetscCall(PdNNForward(net, NULL, &x, &y));
      in[at] = keep;
      for (PetscInt z = 0; z < d; z++)
        for (PetscInt j = 0; j < L; j++)
          for (PetscInt i = 0; i < L; i++) {
            const PetscInt u = (z * L + j) * L + i;
            if (y.v[u] == base[u]) continue;
            reach[0] = PetscMax(reach[0], PetscAbsInt(z - pz));
            reach[1] = PetscMax(reach[1], PetscAbsInt(j - p));
            reach[2] = PetscMax(reach[2], PetscAbsInt(i - p));
          }
    }
  for (int a = 3 - (int)dims; a < 3; a++) PD_EXPECT(reach[a] == r[a], "%" PetscInt_FMT "-D U-Net depth %" PetscInt_FMT ": receptive field %" PetscInt_FMT " along axis %d, a change reaches %" PetscInt_FMT, dims, depth, r[a], a, reach[a]);
  PD_EXPECT(dims == 3 || r[0] == 0, "2-D network: z radius %" PetscInt_FMT, r[0]);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%" PetscInt_FMT "-D U-Net depth %" PetscInt_FMT ": receptive field %" PetscInt_FMT " voxels, measured %" PetscInt_FMT "\n", dims, depth, r[2], reach[2]));
  PetscCall(PetscFree2(in, base));
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- adjoints */

static PetscErrorCode TestAdjoints(void)
{
  PetscFunctionBegin;
  for (PetscInt dims = 2; dims <= 3; dims++) {
    PdNN     up, conv, convt;
    PdTensor x, y, Ux, Uty, Cx, Tu;
    float   *wc, *wt;
    PetscInt nc, nt;
    double   a, b;

    /* ⟨U x, y⟩ = ⟨x, Uᵀ y⟩ */
    PetscCall(PdNNCreate(dims, &up));
    PetscCall(PdNNAddUpsample2(up, "u"));
    PetscCall(PdNNSetUp(up));
    PetscCall(PdTensorAlloc(2, 3, dims == 3 ? 3 : 1, 5, 4, &x));
    PetscCall(PdTensorAlloc(2, 3, dims == 3 ? 6 : 1, 10, 8, &y));
    Random(x.v, PdTensorSize(&x), -1, 1);
    Random(y.v, PdTensorSize(&y), -1, 1);
    PetscCall(PdNNForward(up, NULL, &x, &Ux));
    a = Dot(Ux.v, y.v, PdTensorSize(&y));
    PetscCall(PdNNBackward(up, NULL, &y, &Uty));
    b = Dot(x.v, Uty.v, PdTensorSize(&x));
    PD_EXPECT(fabs(a - b) <= 1e-6 * sqrt(Dot(x.v, x.v, PdTensorSize(&x)) * Dot(y.v, y.v, PdTensorSize(&y))), "upsample %" PetscInt_FMT "D: <Ux, y> %.10g, <x, Uᵀy> %.10g", dims, a, b);

    /* the transposed conv k2 s2 with weights [ci][co] is the adjoint of the conv k2 s2 with the
       same array as [co][ci]: ⟨C u, y⟩ = ⟨u, T y⟩, u on the fine grid */
    PetscCall(PdNNCreate(dims, &conv));
    PetscCall(PdNNAddConv(conv, "c", 2, 3, 2, 2, PD_NN_VALID, PETSC_FALSE));
    PetscCall(PdNNSetUp(conv));
    PetscCall(PdNNCreate(dims, &convt));
    PetscCall(PdNNAddConvTranspose2(convt, "t", 3, 2, PETSC_FALSE));
    PetscCall(PdNNSetUp(convt));
    PetscCall(PdNNGetParams(conv, &wc, &nc));
    PetscCall(PdNNGetParams(convt, &wt, &nt));
    PD_EXPECT(nc == nt, "conv k2 and transposed conv: %" PetscInt_FMT " and %" PetscInt_FMT " weights", nc, nt);
    Random(wc, nc, -1, 1);
    PetscCall(PetscArraycpy(wt, wc, nc));
    PetscCall(PdTensorFree(&x));
    PetscCall(PdTensorFree(&y));
    PetscCall(PdTensorAlloc(2, 2, dims == 3 ? 6 : 1, 10, 8, &x));
    PetscCall(PdTensorAlloc(2, 3, dims == 3 ? 3 : 1, 5, 4, &y));
    Random(x.v, PdTensorSize(&x), -1, 1);
    Random(y.v, PdTensorSize(&y), -1, 1);
    PetscCall(PdNNForward(conv, NULL, &x, &Cx));
    PetscCall(PdNNForward(convt, NULL, &y, &Tu));
    a = Dot(Cx.v, y.v, PdTensorSize(&y));
    b = Dot(x.v, Tu.v, PdTensorSize(&x));
    PD_EXPECT(fabs(a - b) <= 1e-6 * sqrt(Dot(x.v, x.v, PdTensorSize(&x)) * Dot(y.v, y.v, PdTensorSize(&y))), "transposed conv %" PetscInt_FMT "D: <Cu, y> %.10g, <u, Ty> %.10g", dims, a, b);
    PetscCall(PdTensorFree(&x));
    PetscCall(PdTensorFree(&y));
    PetscCall(PdNNDestroy(&up));
    PetscCall(PdNNDestroy(&conv));
    PetscCall(PdNNDestroy(&convt));
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- threads, works, inference */

/* Forward and backward at the current thread count: output and gradients (copies). */
static PetscErrorCode Run(PdNN net, const PdTensor *x, const float *r, float *y, float *g)
{
  PdTensor out, dout;
  float   *gr;
  PetscInt np;

  PetscFunctionBegin;
  PetscCall(PdNNZeroGrads(net));
  PetscCall(PdNNForward(net, NULL, x, &out));
  PetscCall(PetscArraycpy(y, out.v, PdTensorSize(&out)));
  dout = PdTensorView(out.n, out.c, out.d, out.h, out.w, (float *)r);
  PetscCall(PdNNBackward(net, NULL, &dout, NULL));
  PetscCall(PdNNGetGrads(net, &gr, &np));
  PetscCall(PetscArraycpy(g, gr, np));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestThreadsAndWorks(void)
{
  const int nt0 = omp_get_max_threads();

  PetscFunctionBegin;
  for (PetscInt batch = 1; batch <= 2; batch++) {
    PdNN     net;
    PdNNWork wa, wb, wi;
    PdTensor x, x2, ya, yb, yi, r;
    float         *y1, *y2, *g1, *g2, *gr;
    PetscInt       np, ny;
    PetscErrorCode ierr;

    PetscCall(MiniUNet(3, &net));
    PetscCall(PdNNGetParams(net, NULL, &np));
    PetscCall(PdTensorAlloc(batch, 1, 8, 12, 8, &x));
    PetscCall(PdTensorAlloc(batch, 1, 8, 12, 8, &x2));
    PetscCall(PdTensorAlloc(batch, 1, 8, 12, 8, &r));
    ny = PdTensorSize(&x);
    Random(x.v, ny, 0, 1);
    Random(x2.v, ny, 0, 1);
    Random(r.v, ny, -1, 1);
    PetscCall(PetscMalloc4(ny, &y1, ny, &y2, np, &g1, np, &g2));
    omp_set_num_threads(1);
    PetscCall(Run(net, &x, r.v, y1, g1));
    omp_set_num_threads(2);
    PetscCall(Run(net, &x, r.v, y2, g2));
    PD_EXPECT(PdTestRelDiff(y2, y1, (size_t)ny) < 1e-6, "batch %" PetscInt_FMT ": 2 threads change the output by %.3g", batch, PdTestRelDiff(y2, y1, (size_t)ny));
    PD_EXPECT(PdTestRelDiff(g2, g1, (size_t)np) < 1e-5, "batch %" PetscInt_FMT ": 2 threads change the gradient by %.3g", batch, PdTestRelDiff(g2, g1, (size_t)np));
    omp_set_num_threads(1);

    /* inference mode (buffers reused) computes the same output, bit for bit */
    PetscCall(PdNNWorkCreate(net, &wi));
    PetscCall(PdNNWorkSetTraining(wi, PETSC_FALSE));
    PetscCall(PdNNForward(net, wi, &x, &yi));
    PD_EXPECT(!memcmp(yi.v, y1, (size_t)ny * sizeof(float)), "batch %" PetscInt_FMT ": inference mode changes the output", batch);
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = PdNNBackward(net, wi, &r, NULL);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(ierr == PETSC_ERR_ORDER, "backward after an inference forward gave error %d", (int)ierr);

    /* two works: two forwards, then both backwards, add the two gradients */
    PetscCall(PdNNWorkCreate(net, &wa));
    PetscCall(PdNNWorkCreate(net, &wb));
    PetscCall(Run(net, &x2, r.v, y2, g2)); /* g2: x2's gradient alone */
    PetscCall(PdNNZeroGrads(net));
    PetscCall(PdNNForward(net, wa, &x, &ya));
    PetscCall(PdNNForward(net, wb, &x2, &yb));
    PetscCall(PdNNBackward(net, wa, &r, NULL));
    PetscCall(PdNNBackward(net, wb, &r, NULL));
    PetscCall(PdNNGetGrads(net, &gr, NULL));
    for (PetscInt i = 0; i < np; i++) g1[i] += g2[i];
    PD_EXPECT(PdTestRelDiff(gr, g1, (size_t)np) < 1e-6, "two works: gradient off by %.3g from the sum of the two", PdTestRelDiff(gr, g1, (size_t)np));

    /* frozen: the input gradient still flows, the parameter gradients stay */
    PetscCall(PdNNZeroGrads(net));
    PetscCall(PdNNSetFrozen(net, PETSC_TRUE));
    {
      PdTensor din;
      double   s = 0;
      PetscCall(PdNNForward(net, NULL, &x, &ya));
      PetscCall(PdNNBackward(net, NULL, &r, &din));
      for (PetscInt i = 0; i < np; i++) s += fabs(gr[i]);
      PD_EXPECT(s == 0 && Dot(din.v, din.v, ny) > 0, "frozen network: parameter gradient %.3g, input gradient %.3g", s, Dot(din.v, din.v, ny));
    }
    PetscCall(PdNNWorkDestroy(&wa));
    PetscCall(PdNNWorkDestroy(&wb));
    PetscCall(PdNNWorkDestroy(&wi));
    PetscCall(PetscFree4(y1, y2, g1, g2));
    PetscCall(PdTensorFree(&x));
    PetscCall(PdTensorFree(&x2));
    PetscCall(PdTensorFree(&r));
    PetscCall(PdNNDestroy(&net));
  }
  {
    /* one image in many bands: 2 threads take bands */
    PdNN     net;
    PdTensor x, y;
    float   *th, *y1;
    PetscInt np;

    PetscCall(PdNNCreate(2, &net));
    PetscCall(PdNNAddConv(net, "c", 16, 8, 5, 1, PD_NN_SAME, PETSC_TRUE));
    PetscCall(PdNNSetUp(net));
    PetscCall(PdNNGetParams(net, &th, &np));
    Random(th, np, -1, 1);
    PetscCall(PdTensorAlloc(1, 16, 1, 96, 64, &x));
    Random(x.v, PdTensorSize(&x), -1, 1);
    PetscCall(PetscMalloc1(8 * 96 * 64, &y1));
    omp_set_num_threads(1);
    PetscCall(PdNNForward(net, NULL, &x, &y));
    PetscCall(PetscArraycpy(y1, y.v, 8 * 96 * 64));
    omp_set_num_threads(2);
    PetscCall(PdNNForward(net, NULL, &x, &y));
    /* BLAS may pick other kernels inside a parallel region: equal up to rounding */
    PD_EXPECT(PdTestRelDiff(y.v, y1, 8 * 96 * 64) < 1e-6, "bands on 2 threads change the output by %.3g", PdTestRelDiff(y.v, y1, 8 * 96 * 64));
    PetscCall(PetscFree(y1));
    PetscCall(PdTensorFree(&x));
    PetscCall(PdNNDestroy(&net));
  }
  omp_set_num_threads(nt0);
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- losses */

static PetscErrorCode TestLosses(void)
{
  /* two samples of two values: errors (1, 1) and (2, 3); the first target's max is 1, the second's 2 */
  float       p[4] = {1, 2, 3, 5}, t[4] = {0, 1, 1, 2}, gv[4], p0[4] = {1, 2, 3, 5};
  PdTensor    P = PdTensorView(2, 2, 1, 1, 1, p), T = PdTensorView(2, 2, 1, 1, 1, t), G = PdTensorView(2, 2, 1, 1, 1, gv);
  const double scale = 0.5;
  /* by hand: MSE (1 + 6.5)·½; ½SSE (1 + 6.5)·½; MAE (1 + 2.5)·½;
     −PSNR (10 log10 1 − 0 + 10 log10 6.5 − 20 log10 2)·½ */
  const double expect[4] = {3.75, 3.75, 1.75, 0.5 * (10 * log10(1 + 1e-10) + 10 * log10(6.5 + 1e-10) - 20 * log10(2.0))};

  PetscFunctionBegin;
  for (int k = 0; k < 4; k++) {
    double L, Lp, Lm, an = 0, fd;
    /* a fixed direction: a random one from the shared stream could make gradient·v small
       enough for the float steps' rounding to matter */
    const float v[4] = {0.5f, -0.25f, 0.75f, 1.0f};
    PetscCall(PdNNLoss((PdNNLossType)k, &P, &T, scale, &L, &G));
    PD_EXPECT(fabs(L - expect[k]) < 1e-12 * (1 + fabs(expect[k])), "%s loss %.15g, by hand %.15g", PdNNLossTypes[k], L, expect[k]);
    for (int i = 0; i < 4; i++) an += (double)gv[i] * v[i];
    for (int i = 0; i < 4; i++) p[i] += 1e-3f * v[i];
    PetscCall(PdNNLoss((PdNNLossType)k, &P, &T, scale, &Lp, NULL));
    for (int i = 0; i < 4; i++) p[i] -= 2e-3f * v[i];
    PetscCall(PdNNLoss((PdNNLossType)k, &P, &T, scale, &Lm, NULL));
    for (int i = 0; i < 4; i++) p[i] = p0[i];
    fd = (Lp - Lm) / 2e-3;
    PD_EXPECT(fabs(fd - an) < 1e-3 * (fabs(an) + 1e-2), "%s loss: gradient·v %.8g, finite differences %.8g", PdNNLossTypes[k], an, fd);
  }
  {
    /* −PSNR of a blank target (max 0): finite, the max term left out */
    float    z[4] = {0, 0, 0, 0};
    PdTensor Z    = PdTensorView(2, 2, 1, 1, 1, z);
    double   L;
    PetscCall(PdNNLoss(PD_NN_LOSS_NEG_PSNR, &P, &Z, 1.0, &L, NULL));
    PD_EXPECT(fabs(L - (10 * log10(2.5 + 1e-10) + 10 * log10(17.0 + 1e-10))) < 1e-9, "−PSNR against a blank target: %.12g", L);
  }
  /* L1 at a zero error: gradient 0 */
  {
    double L;
    p[0] = t[0];
    p[1] = 2;
    PetscCall(PdNNLoss(PD_NN_LOSS_MAE, &P, &T, 1.0, &L, &G));
    PD_EXPECT(gv[0] == 0 && gv[1] == 0.5f, "MAE gradient at a zero error %g (expected 0), elsewhere %g (expected 0.5)", (double)gv[0], (double)gv[1]);
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- optimisers */

static PetscErrorCode TestOptimizers(void)
{
  const float  g[2] = {0.5f, -0.1f}, mult[2] = {1.0f, 0.5f}, th0[2] = {1.0f, -2.0f};
  const double lr = 0.1, b1 = 0.9, b2 = 0.999;
  float        th[2];
  PdSGD        sgd;
  PdAdam       adam;

  PetscFunctionBegin;
  /* SGD: V1 = −lr·m·g, θ1 = θ0 + V1; V2 = 0.9 V1 − lr·m·g, θ2 = θ1 + V2 */
  PetscCall(PdSGDCreate(2, 0.9, &sgd));
  PetscCall(PetscArraycpy(th, th0, 2));
  PetscCall(PdSGDStep(sgd, lr, mult, g, th));
  PetscCall(PdSGDStep(sgd, lr, mult, g, th));
  PD_EXPECT(fabsf(th[0] - (1.0f - 0.05f - 0.095f)) < 1e-6f && fabsf(th[1] - (-2.0f + 0.005f + 0.0095f)) < 1e-6f, "SGD after two steps: %.8g %.8g", (double)th[0], (double)th[1]);
  PetscCall(PdSGDDestroy(&sgd));

  /* Adam, PyTorch form: after one step m̂ = g, v̂ = g², θ1 = θ0 − lr·m·g/(|g| + ε) */
  PetscCall(PdAdamCreate(2, &adam));
  PetscCall(PetscArraycpy(th, th0, 2));
  PetscCall(PdAdamStepFloat(adam, lr, mult, g, th));
  PD_EXPECT(fabsf(th[0] - 0.9f) < 1e-6f && fabsf(th[1] - (-1.95f)) < 1e-6f, "Adam (PyTorch) after one step: %.8g %.8g, expected 0.9 -1.95", (double)th[0], (double)th[1]);
  /* second step with the same gradient: m̂ = g, v̂ = g² again */
  PetscCall(PdAdamStepFloat(adam, lr, mult, g, th));
  PD_EXPECT(fabsf(th[0] - 0.8f) < 1e-6f && fabsf(th[1] - (-1.9f)) < 1e-6f, "Adam (PyTorch) after two steps: %.8g %.8g, expected 0.8 -1.9", (double)th[0], (double)th[1]);
  PetscCall(PdAdamDestroy(&adam));

  /* Keras form, ε = 1e−7 large enough to show: lr_1 = lr·sqrt(1−β2)/(1−β1), m = 0.1 g, √v = √0.001 |g| */
  PetscCall(PdAdamCreate(2, &adam));
  PetscCall(PdAdamSetHyperParameters(adam, b1, b2, 1e-1, PD_ADAM_KERAS));
  PetscCall(PetscArraycpy(th, th0, 2));
  PetscCall(PdAdamStepFloat(adam, lr, NULL, g, th));
  for (int i = 0; i < 2; i++) {
    const double lrt = lr * sqrt(1 - b2) / (1 - b1), e = th0[i] - lrt * (1 - b1) * g[i] / (sqrt((1 - b2) * g[i] * g[i]) + 1e-1);
    PD_EXPECT(fabs(th[i] - e) < 1e-6, "Adam (Keras) parameter %d: %.8g, expected %.8g", i, (double)th[i], e);
  }
  PetscCall(PdAdamDestroy(&adam));
  /* the PyTorch form with the same large ε differs: ε enters after the bias correction */
  PetscCall(PdAdamCreate(2, &adam));
  PetscCall(PdAdamSetHyperParameters(adam, b1, b2, 1e-1, PD_ADAM_PYTORCH));
  PetscCall(PetscArraycpy(th, th0, 2));
  PetscCall(PdAdamStepFloat(adam, lr, NULL, g, th));
  PD_EXPECT(fabsf(th[0] - (float)(1.0 - lr * 0.5 / 0.6)) < 1e-6f, "Adam (PyTorch, ε 0.1): %.8g, expected %.8g", (double)th[0], 1.0 - lr * 0.5 / 0.6);
  PetscCall(PdAdamDestroy(&adam));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- initialisers, counts */

static PetscErrorCode TestInit(void)
{
  PdNN     net;
  float   *th;
  PetscInt np, nw, boff, nb;
  double   a = sqrt(6.0 / (16 * 9 + 32 * 9)), s2, mx;

  PetscFunctionBegin;
  PetscCall(PdNNCreate(2, &net));
  PetscCall(PdNNAddConv(net, "c", 16, 32, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNGetParams(net, &th, &np));
  PetscCall(PdNNGetLayerInfo(net, 0, NULL, NULL, NULL, &nw, &boff, &nb));
  PD_EXPECT(nw == 4608 && nb == 32 && np == 4640, "conv 16 -> 32, 3x3: %" PetscInt_FMT " weights, %" PetscInt_FMT " biases", nw, nb);
  for (int init = 0; init < 3; init++) {
    const double sd = init == PD_NN_INIT_GAUSSIAN ? 0.02 : (init == PD_NN_INIT_GLOROT_UNIFORM ? a / sqrt(3.0) : sqrt(2.0 / 144));
    Random(th, np, 1, 2);
    PetscCall(PdNNInitialize(net, (PdNNInit)init, 0.02, 5));
    s2 = 0;
    mx = 0;
    for (PetscInt i = 0; i < nw; i++) {
      s2 += (double)th[i] * th[i];
      mx = fmax(mx, fabs(th[i]));
    }
    s2 = sqrt(s2 / nw);
    PD_EXPECT(fabs(s2 / sd - 1) < 0.05, "initialiser %d: spread %.5g, expected %.5g", init, s2, sd);
    PD_EXPECT(init != PD_NN_INIT_GLOROT_UNIFORM || mx <= a, "Glorot-uniform value %.5g beyond a = %.5g", mx, a);
    for (PetscInt i = 0; i < nb; i++) PD_EXPECT(th[boff + i] == 0, "bias not 0 after initialisation");
  }
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- model files */

static PetscErrorCode TestFiles(void)
{
  PdNN           net, net2, other;
  PdAdam         adam, adam2;
  PdSGD          sgd, sgd2;
  float         *th, *th2, *g;
  double        *m, *v, *m2, *v2, *V, *V2, meta[3] = {1.5, -2, 99}, meta2[3];
  PetscInt       np, t, t2;
  char           path[64], kind[32];
  int            size, rank;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscSNPrintf(path, sizeof(path), "nn_model_np%d.h5", size));
  PetscCall(MiniUNet(3, &net));
  PetscCall(PdNNGetParams(net, &th, &np));
  PetscCall(PdNNGetGrads(net, &g, NULL));
  Random(g, np, -1, 1);
  PetscCall(PdAdamCreate(np, &adam));
  PetscCall(PdSGDCreate(np, 0.9, &sgd));
  PetscCall(PdAdamStepFloat(adam, 1e-3, NULL, g, th));
  PetscCall(PdAdamStepFloat(adam, 1e-3, NULL, g, th));
  PetscCall(PdSGDStep(sgd, 1e-3, NULL, g, th));
  PetscCall(PdNNSetMeta(net, "norm", 3, meta));
  PetscCall(PdNNSave(net, PETSC_COMM_WORLD, path, "unet_test", adam, sgd));

  PetscCall(PdNNFileKind(PETSC_COMM_WORLD, path, kind, sizeof(kind)));
  PD_EXPECT(!strcmp(kind, "unet_test"), "model kind read back as '%s'", kind);
  PetscCall(MiniUNet(3, &net2));
  PetscCall(PdAdamCreate(np, &adam2));
  PetscCall(PdSGDCreate(np, 0.9, &sgd2));
  PetscCall(PdNNLoad(net2, PETSC_COMM_WORLD, path, "unet_test", adam2, sgd2));
  PetscCall(PdNNGetParams(net2, &th2, NULL));
  PetscCall(PdAdamGetState(adam, NULL, &t, &m, &v));
  PetscCall(PdAdamGetState(adam2, NULL, &t2, &m2, &v2));
  PetscCall(PdSGDGetState(sgd, NULL, &V));
  PetscCall(PdSGDGetState(sgd2, NULL, &V2));
  PetscCall(PdNNGetMeta(net2, "norm", 3, meta2));
  PD_EXPECT(!memcmp(th, th2, (size_t)np * sizeof(float)), "parameters changed in the save/load round trip");
  PD_EXPECT(t == t2 && !memcmp(m, m2, (size_t)np * sizeof(double)) && !memcmp(v, v2, (size_t)np * sizeof(double)), "Adam state changed in the round trip");
  PD_EXPECT(!memcmp(V, V2, (size_t)np * sizeof(double)), "SGD state changed in the round trip");
  PD_EXPECT(!memcmp(meta, meta2, sizeof(meta)), "metadata changed in the round trip");

  /* bad files: one error on every rank, the network left as it was */
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  th2[0] = 42;
  ierr   = PdNNLoad(net2, PETSC_COMM_WORLD, path, "isonet1", NULL, NULL);
  PD_EXPECT(ierr == PD_ERR_INPUT && th2[0] == 42, "another model kind gives error %d", (int)ierr);
  ierr = PdNNLoad(net2, PETSC_COMM_WORLD, "nn_no_such_file.h5", "unet_test", NULL, NULL);
  PD_EXPECT(ierr == PD_ERR_FILE, "a missing file gives error %d", (int)ierr);
  if (!rank) {
    FILE *f = fopen("nn_not_hdf5.h5", "w");
    if (f) {
      fputs("not an HDF5 file\n", f);
      fclose(f);
    }
  }
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  ierr = PdNNLoad(net2, PETSC_COMM_WORLD, "nn_not_hdf5.h5", "unet_test", NULL, NULL);
  PD_EXPECT(ierr == PD_ERR_FILE, "a file that is not HDF5 gives error %d", (int)ierr);
  /* another shape: c2 with 5 output channels instead of 6; another layer kind: sigmoid for ReLU */
  PetscCall(UNet(3, PETSC_FALSE, 5, &other));
  ierr = PdNNLoad(other, PETSC_COMM_WORLD, path, "unet_test", NULL, NULL);
  PD_EXPECT(ierr == PD_ERR_INPUT, "a model of another shape gives error %d", (int)ierr);
  PetscCall(PdNNDestroy(&other));
  PetscCall(UNet(3, PETSC_TRUE, 6, &other));
  ierr = PdNNLoad(other, PETSC_COMM_WORLD, path, "unet_test", NULL, NULL);
  PD_EXPECT(ierr == PD_ERR_INPUT, "a model with another layer kind gives error %d", (int)ierr);
  PetscCall(PdNNDestroy(&other));
  /* a part of the network: its first layer alone */
  PetscCall(PdNNCreate(3, &other));
  PetscCall(PdNNAddConv(other, "c1", 1, 4, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNSetUp(other));
  ierr = PdNNLoad(other, PETSC_COMM_WORLD, path, "unet_test", NULL, NULL);
  PD_EXPECT(ierr == PD_ERR_INPUT, "a model with more layers gives error %d", (int)ierr);
  PetscCall(PdNNDestroy(&other));
  /* no optimiser state in a file saved without it */
  PetscCall(PdNNSave(net, PETSC_COMM_WORLD, path, "unet_test", NULL, NULL));
  ierr = PdNNLoad(net2, PETSC_COMM_WORLD, path, "unet_test", adam2, NULL);
  PD_EXPECT(ierr == PD_ERR_INPUT, "a file without Adam state gives error %d when it is asked for", (int)ierr);
  /* NaN */
  th[3] = NAN;
  PetscCall(PdNNSave(net, PETSC_COMM_WORLD, path, "unet_test", NULL, NULL));
  ierr = PdNNLoad(net2, PETSC_COMM_WORLD, path, "unet_test", NULL, NULL);
  PD_EXPECT(ierr == PD_ERR_INPUT, "a model holding NaN gives error %d", (int)ierr);
  PetscCall(PetscPopErrorHandler());

  if (!rank) {
    (void)remove(path);
    (void)remove("nn_not_hdf5.h5");
  }
  PetscCall(PdAdamDestroy(&adam));
  PetscCall(PdAdamDestroy(&adam2));
  PetscCall(PdSGDDestroy(&sgd));
  PetscCall(PdSGDDestroy(&sgd2));
  PetscCall(PdNNDestroy(&net));
  PetscCall(PdNNDestroy(&net2));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  int size;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  /* the engine is per rank: the numerical checks once, the (collective) files on every count */
  if (size == 1) {
    const PetscInt a[3] = {1, 9, 11}, b[3] = {5, 6, 7}, c[3] = {1, 40, 40};
    /* the convolution checks on every backend this build has (the default, auto, picks per layer
       among them) */
    for (PdNNBackend be = PD_NN_BACKEND_BLAS; be <= PD_NN_BACKEND_DNNL; be++) {
      if (!PdNNBackendAvailable(be)) continue;
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "convolution backend %s\n", PdNNBackends[be]));
      PetscCall(PdNNSetDefaultBackend(be));
      PetscCall(TestConvDirect(2, 2, 3, 4, 3, 1, PD_NN_SAME, a, PETSC_TRUE));
      PetscCall(TestConvDirect(2, 3, 2, 3, 3, 2, 1, a, PETSC_TRUE));
      PetscCall(TestConvDirect(2, 1, 2, 3, 5, 1, PD_NN_VALID, a, PETSC_FALSE));
      PetscCall(TestConvDirect(2, 2, 3, 2, 4, 2, 1, a, PETSC_TRUE));
      PetscCall(TestConvDirect(2, 2, 3, 5, 1, 1, PD_NN_VALID, a, PETSC_TRUE));
      PetscCall(TestConvDirect(2, 1, 16, 4, 5, 1, PD_NN_SAME, c, PETSC_TRUE)); /* several bands */
      PetscCall(TestConvDirect(3, 2, 2, 3, 3, 1, PD_NN_SAME, b, PETSC_TRUE));
      PetscCall(TestConvDirect(3, 1, 2, 2, 3, 2, 1, b, PETSC_TRUE));
      PetscCall(TestConvDirect(3, 1, 2, 3, 4, 2, 2, b, PETSC_FALSE));
      PetscCall(TestConvDirect(3, 2, 4, 3, 3, 1, PD_NN_SAME, b, PETSC_TRUE)); /* folded x-taps */
      PetscCall(TestConvDirect(2, 2, 8, 3, 4, 1, 1, a, PETSC_TRUE));
      PetscCall(TestConvDirect(2, 1, 8, 2, 3, 1, 3, c, PETSC_FALSE));
      PetscCall(TestConvDirect(2, 3, 16, 16, 7, 1, PD_NN_SAME, c, PETSC_TRUE)); /* auto: oneDNN's */
      PetscCall(TestConvDirect(3, 2, 16, 17, 3, 1, PD_NN_SAME, b, PETSC_TRUE));
      PetscCall(TestLayerGradients());
      PetscCall(TestNetwork());
      PetscCall(TestAdjoints());
      PetscCall(TestThreadsAndWorks());
    }
    PetscCall(PdNNSetDefaultBackend(PD_NN_BACKEND_AUTO));
    /* the FFT path: odd sizes, k 5, 7, 9, same and valid, batches, one tile and several */
    PetscCall(TestConvFft(2, 3, 4, 5, PD_NN_SAME, 13, 17, 64));
    PetscCall(TestConvFft(3, 5, 2, 7, PD_NN_SAME, 29, 23, 8));
    PetscCall(TestConvFft(1, 2, 3, 9, PD_NN_VALID, 31, 40, 64));
    PetscCall(TestConvFft(2, 4, 3, 5, PD_NN_VALID, 37, 33, 10));
    PetscCall(TestConvFft(3, 16, 8, 7, PD_NN_SAME, 45, 41, 16));
    PetscCall(TestConvFft(1, 1, 6, 9, PD_NN_SAME, 70, 66, 20));
    PetscCall(TestConvFft(3, 12, 10, 5, PD_NN_SAME, 20, 19, 64)); /* channel groups of 8 and a rest */
    PetscCall(TestNetworkFft(1));
    PetscCall(TestNetworkFft(2));
    PetscCall(TestLosses());
    PetscCall(TestOptimizers());
    PetscCall(TestInit());
    PetscCall(TestAvgPool());
    for (PetscInt depth = 1; depth <= 2; depth++) {
      PetscCall(TestReceptiveField(2, depth));
      PetscCall(TestReceptiveField(3, depth));
    }
  }
  PetscCall(TestFiles());
  return PdTestFinalize("test_nn");
}
