/* The cycleGAN with a linear blur kernel (cyclegan.h, blur_fft.h, cyclegan_nets.h): the FFT blur
   against a direct sum (odd and even kernels) and its two backward products against finite
   differences; the simplex projection against its defining properties; one training step
   (blind and non-blind) on P ranks against the same global batch on one rank; a blind run's
   kernel staying >= 0 with sum 1; the networks' output sizes. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/learn/blur_fft.h>
#include <pdecon/learn/cyclegan.h>
#include <pdecon/learn/cyclegan_nets.h>
#include <pdecon/learn/train_batch.h>
#include <pdecon/learn/nn_tiled.h>
#include <math.h>

static unsigned long long seed = 4242;

static void Random(float *v, PetscInt n, double lo, double hi)
{
  for (PetscInt i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * PdTestUniform(&seed));
}

static double Dot(const float *a, const float *b, PetscInt n)
{
  double s = 0;
  for (PetscInt i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* H x by the direct sum of blur_fft.h's definition, zero outside the volume. */
static void DirectBlur(const PetscInt n[3], PetscInt k, const float *h, const float *x, double *y)
{
  const PetscInt c = k / 2;
  for (PetscInt z = 0; z < n[0]; z++)
    for (PetscInt j = 0; j < n[1]; j++)
      for (PetscInt i = 0; i < n[2]; i++) {
        double s = 0;
        for (PetscInt a = 0; a < k; a++)
          for (PetscInt b = 0; b < k; b++)
            for (PetscInt e = 0; e < k; e++) {
              const PetscInt zz = z - a + c, jj = j - b + c, ii = i - e + c;
              if (zz < 0 || zz >= n[0] || jj < 0 || jj >= n[1] || ii < 0 || ii >= n[2]) continue;
              s += (double)h[(a * k + b) * k + e] * x[(zz * n[1] + jj) * n[2] + ii];
            }
        y[(z * n[1] + j) * n[2] + i] = s;
      }
}

static PetscErrorCode TestBlur(PetscInt k)
{
  const PetscInt n[3] = {5, 7, 6}, M = 5 * 7 * 6, nk = k * k * k;
  PdBlurFFT      b;
  float         *h, *x, *y, *r, *dx, *dh, *v, *vh;
  double        *ref, err = 0, nrm = 0, an, fd, Lp, Lm;
  const double   eps = 1e-2;
  PdTensor       X, Y, R, DX;

  PetscFunctionBegin;
  PetscCall(PetscMalloc4(nk, &h, M, &x, M, &y, M, &r));
  PetscCall(PetscMalloc5(M, &dx, nk, &dh, M, &v, nk, &vh, M, &ref));
  Random(h, nk, 0, 1);
  Random(x, M, -1, 1);
  Random(r, M, -1, 1);
  PetscCall(PdBlurFFTCreate(k, n, &b));
  PetscCall(PdBlurFFTSetKernel(b, h));
  X = PdTensorView(1, 1, n[0], n[1], n[2], x);
  Y = PdTensorView(1, 1, n[0], n[1], n[2], y);
  R = PdTensorView(1, 1, n[0], n[1], n[2], r);
  DX = PdTensorView(1, 1, n[0], n[1], n[2], dx);
  PetscCall(PdBlurFFTForward(b, &X, &Y));
  DirectBlur(n, k, h, x, ref);
  for (PetscInt i = 0; i < M; i++) {
    err += (y[i] - ref[i]) * (y[i] - ref[i]);
    nrm += ref[i] * ref[i];
  }
  PD_EXPECT(sqrt(err / nrm) < 1e-5, "blur k=%" PetscInt_FMT ": FFT against the direct sum, relative error %g", k, sqrt(err / nrm));
  /* L = ⟨r, H x⟩: dL/dx and dL/dh along random directions (L is linear in each: central
     differences are exact up to rounding) */
  PetscCall(PetscArrayzero(dh, nk));
  PetscCall(PdBlurFFTBackward(b, &X, &R, &DX, dh));
  Random(v, M, -1, 1);
  Random(vh, nk, -1, 1);
  an = Dot(dx, v, M);
  for (PetscInt i = 0; i < M; i++) x[i] += (float)eps * v[i];
  PetscCall(PdBlurFFTForward(b, &X, &Y));
  Lp = Dot(r, y, M);
  for (PetscInt i = 0; i < M; i++) x[i] -= 2 * (float)eps * v[i];
  PetscCall(PdBlurFFTForward(b, &X, &Y));
  Lm = Dot(r, y, M);
  for (PetscInt i = 0; i < M; i++) x[i] += (float)eps * v[i];
  fd = (Lp - Lm) / (2 * eps);
  PD_EXPECT(fabs(fd - an) < 1e-4 * (1 + fabs(an)), "blur k=%" PetscInt_FMT ": dL/dx·v %.8g, finite differences %.8g", k, an, fd);
  an = Dot(dh, vh, nk);
  for (PetscInt i = 0; i < nk; i++) h[i] += (float)eps * vh[i];
  PetscCall(PdBlurFFTSetKernel(b, h));
  PetscCall(PdBlurFFTForward(b, &X, &Y));
  Lp = Dot(r, y, M);
  for (PetscInt i = 0; i < nk; i++) h[i] -= 2 * (float)eps * vh[i];
  PetscCall(PdBlurFFTSetKernel(b, h));
  PetscCall(PdBlurFFTForward(b, &X, &Y));
  Lm = Dot(r, y, M);
  fd = (Lp - Lm) / (2 * eps);
  PD_EXPECT(fabs(fd - an) < 1e-4 * (1 + fabs(an)), "blur k=%" PetscInt_FMT ": dL/dh·v %.8g, finite differences %.8g", k, an, fd);
  PetscCall(PdBlurFFTDestroy(&b));
  PetscCall(PetscFree4(h, x, y, r));
  PetscCall(PetscFree5(dx, dh, v, vh, ref));
  PetscFunctionReturn(0);
}

/* The projection onto the simplex: a point inside stays, the result is >= 0 with sum 1, and it is
   the nearest such point (no better one along random feasible directions). */
static PetscErrorCode TestSimplex(void)
{
  float  a[50], p[50], q[50];
  double s = 0, d0 = 0;

  PetscFunctionBegin;
  Random(a, 50, 0, 1);
  for (int i = 0; i < 50; i++) s += a[i];
  for (int i = 0; i < 50; i++) p[i] = a[i] = (float)(a[i] / s);
  PetscCall(PdBlurProjectSimplex(50, p));
  for (int i = 0; i < 50; i++) PD_EXPECT(fabsf(p[i] - a[i]) < 1e-6f, "simplex: a point inside moved");
  Random(a, 50, -1, 1);
  PetscCall(PetscArraycpy(p, a, 50));
  PetscCall(PdBlurProjectSimplex(50, p));
  s = 0;
  for (int i = 0; i < 50; i++) {
    PD_EXPECT(p[i] >= 0, "simplex: negative value %g", (double)p[i]);
    s += p[i];
    d0 += (p[i] - a[i]) * (p[i] - a[i]);
  }
  PD_EXPECT(fabs(s - 1) < 1e-5, "simplex: sum %g", s);
  for (int t = 0; t < 20; t++) {
    double d = 0, w = 0.1 * PdTestUniform(&seed);
    Random(q, 50, 0, 1);
    s = 0;
    for (int i = 0; i < 50; i++) s += q[i];
    for (int i = 0; i < 50; i++) {
      const double m = (1 - w) * p[i] + w * q[i] / s;
      d += (m - a[i]) * (m - a[i]);
    }
    PD_EXPECT(d >= d0 - 1e-9, "simplex: a feasible point nearer than the projection (%g < %g)", d, d0);
  }
  PetscFunctionReturn(0);
}

static void SmallSettings(PdCycleGANSettings *s, PetscBool blind)
{
  PdCycleGANSettingsDefault(s);
  s->depth  = 1;
  s->width  = 2;
  s->dwidth = 2;
  s->k      = 5;
  s->patch  = 8;
  s->blind  = blind;
  s->lr     = 1e-3;
}

/* One step of a global batch of 3 on the world against the same step on this rank alone. */
static PetscErrorCode TestRankInvariance(PetscBool blind)
{
  PdCycleGANSettings s;
  PdCycleGAN         gw, g1;
  const PetscInt     B = 3, M = 512, nk = 125;
  float             *x, *y, psf[125], *tw, *t1;
  const float       *hw, *h1;
  double             lw[2], l1[2], dmax = 0;
  ptrdiff_t          j0, nj;
  PetscInt           np;
  PdNN               G;
  int                size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  SmallSettings(&s, blind);
  PetscCall(PetscMalloc2(B * M, &x, B * M, &y));
  Random(x, B * M, 0, 1);
  Random(y, B * M, 0, 1);
  PetscCall(PdBlurGaussianKernel(5, 1.5, 1.0, psf));
  PetscCall(PdCycleGANCreate(PETSC_COMM_WORLD, &s, psf, &gw));
  PetscCall(PdCycleGANCreate(PETSC_COMM_SELF, &s, psf, &g1));
  PetscCall(PdBatchShare(PETSC_COMM_WORLD, B, &j0, &nj));
  PetscCall(PdCycleGANStep(gw, (PetscInt)nj, B, x + j0 * M, y + j0 * M, lw));
  PetscCall(PdCycleGANStep(g1, B, B, x, y, l1));
  PD_EXPECT(fabs(lw[0] - l1[0]) < 1e-5 * fabs(l1[0]) && fabs(lw[1] - l1[1]) < 1e-5 * fabs(l1[1]), "%s step: losses %g %g on %d ranks, %g %g on one", blind ? "blind" : "non-blind", lw[0], lw[1], size, l1[0], l1[1]);
  PetscCall(PdCycleGANGetGenerator(gw, &G));
  PetscCall(PdNNGetParams(G, &tw, &np));
  PetscCall(PdCycleGANGetGenerator(g1, &G));
  PetscCall(PdNNGetParams(G, &t1, NULL));
  for (PetscInt i = 0; i < np; i++) dmax = PetscMax(dmax, fabs((double)tw[i] - t1[i]));
  PetscCall(PdCycleGANGetKernel(gw, &hw));
  PetscCall(PdCycleGANGetKernel(g1, &h1));
  for (PetscInt i = 0; i < nk; i++) dmax = PetscMax(dmax, fabs((double)hw[i] - h1[i]));
  /* the step moves each parameter by about lr; the ranks' sums differ only in rounding */
  PD_EXPECT(dmax < 1e-2 * s.lr, "%s step on %d ranks: parameters differ from one rank's by %g (lr %g)", blind ? "blind" : "non-blind", size, dmax, s.lr);
  PetscCall(PdCycleGANDestroy(&gw));
  PetscCall(PdCycleGANDestroy(&g1));
  PetscCall(PetscFree2(x, y));
  PetscFunctionReturn(0);
}

/* Blind training steps keep the kernel on the simplex, and it moves from its start. */
static PetscErrorCode TestBlindKernel(void)
{
  PdCycleGANSettings s;
  PdCycleGAN         g;
  const PetscInt     M = 512, nk = 125;
  float              x[512], y[512], h0[125];
  const float       *h;
  double             l[2], sum = 0, moved = 0, hmin = 1;

  PetscFunctionBegin;
  SmallSettings(&s, PETSC_TRUE);
  PetscCall(PdCycleGANCreate(PETSC_COMM_SELF, &s, NULL, &g));
  PetscCall(PdCycleGANGetKernel(g, &h));
  PetscCall(PetscArraycpy(h0, h, nk));
  for (int it = 0; it < 5; it++) {
    Random(x, M, 0, 1);
    Random(y, M, 0, 1);
    PetscCall(PdCycleGANStep(g, 1, 1, x, y, l));
  }
  for (PetscInt i = 0; i < nk; i++) {
    sum += h[i];
    hmin = PetscMin(hmin, (double)h[i]);
    moved += fabs((double)h[i] - h0[i]);
  }
  PD_EXPECT(hmin >= 0 && fabs(sum - 1) < 1e-5, "blind kernel: min %g, sum %.8g", hmin, sum);
  PD_EXPECT(moved > 1e-4, "blind kernel: did not move (%g)", moved);
  PetscCall(PdCycleGANDestroy(&g));
  PetscFunctionReturn(0);
}

/* Output shapes: the U-Net keeps the size; the PatchGAN maps of a 64³ patch at scales 1, 2, 3
   are 11³, 7³, 5³ (padding 2); the paper's G has 7 077 251 parameters, less the 1 472 biases of
   its convolutions before instance norms. */
static PetscErrorCode TestShapes(void)
{
  PdNN           net;
  const PetscInt in[5] = {1, 1, 64, 64, 64}, side[3] = {11, 7, 5};
  PetscInt       o[5], np;
  float         *th;

  PetscFunctionBegin;
  PetscCall(PdUNet3DCreate(2, 64, 1, &net));
  PetscCall(PdNNGetOutputShape(net, in, o));
  PetscCall(PdNNGetParams(net, &th, &np));
  PD_EXPECT(o[1] == 1 && o[2] == 64 && o[3] == 64 && o[4] == 64, "U-Net output %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, o[2], o[3], o[4]);
  PD_EXPECT(np == 7077251 - 1472, "U-Net parameters %" PetscInt_FMT ", expected %d", np, 7077251 - 1472);
  {
    /* e0: 2 convs at scale 1, e1: 2 at 2, e2: 3 at 4, d1: the transposed conv 2 + 2 convs at 2,
       d0: 1 + 1 conv: 2 + 4 + 12 + 6 + 2 */
    PetscInt r[3], q;
    PetscCall(PdNNGetReceptiveField(net, r, &q));
    PD_EXPECT(r[0] == 26 && r[1] == 26 && r[2] == 26 && q == 4, "U-Net receptive field %" PetscInt_FMT " (multiple %" PetscInt_FMT "), expected 26 (4)", r[2], q);
  }
  PetscCall(PdNNDestroy(&net));
  for (PetscInt s = 1; s <= 3; s++) {
    PetscCall(PdPatchGAN3DCreate(s, 2, 1, &net));
    PetscCall(PdNNGetOutputShape(net, in, o));
    PD_EXPECT(o[2] == side[s - 1] && o[4] == side[s - 1], "PatchGAN scale %" PetscInt_FMT ": map side %" PetscInt_FMT ", expected %" PetscInt_FMT, s, o[2], side[s - 1]);
    PetscCall(PdNNDestroy(&net));
  }
  PetscFunctionReturn(0);
}

/* Tiled inference (tiles shared among the ranks) equals one pass over the whole volume for a
   network that sees 2 voxels each way (two 3³ convs) when tiles keep m = V/4 >= 2 voxels of each
   face out of use: away from the volume's faces (mirrored there, zero-padded in one pass), every
   blended value is the same number. Odd sizes, several tiles per axis. */
static PetscErrorCode TestTiled(void)
{
  const ptrdiff_t n[3] = {19, 23, 30};
  const PetscInt  N = 19 * 23 * 30;
  PdNN            net;
  float          *in, *out, *th;
  PdTensor        x, y;
  PetscInt        np;
  double          err = 0, ref = 0;

  PetscFunctionBegin;
  PetscCall(PdNNCreate(3, &net));
  PetscCall(PdNNAddConv(net, "c1", 1, 3, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNAddReLU(net, "r1"));
  PetscCall(PdNNAddConv(net, "c2", 3, 1, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNGetParams(net, &th, &np));
  Random(th, np, -0.5, 0.5);
  PetscCall(PetscMalloc2(N, &in, N, &out));
  Random(in, N, 0, 1);
  PetscCall(PdNNApplyTiled(net, PETSC_COMM_WORLD, n, in, 12, 8, out));
  x = PdTensorView(1, 1, n[0], n[1], n[2], in);
  PetscCall(PdNNForward(net, NULL, &x, &y));
  for (ptrdiff_t z = 2; z < n[0] - 2; z++)
    for (ptrdiff_t j = 2; j < n[1] - 2; j++)
      for (ptrdiff_t i = 2; i < n[2] - 2; i++) {
        const ptrdiff_t q = (z * n[1] + j) * n[2] + i;
        err = PetscMax(err, fabs((double)out[q] - y.v[q]));
        ref = PetscMax(ref, fabs((double)y.v[q]));
      }
  PD_EXPECT(err <= 1e-5 * ref, "tiled inference differs from one pass by %g (max %g)", err, ref);
  PetscCall(PetscFree2(in, out));
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}

/* With the overlap PdNNTiledPlan chooses (the discarded edge covers the receptive field), tiled
   inference of a random U-Net of depth 1 without instance normalisation (conv, pool, conv,
   transposed conv, concat, conv: radius 1 + 2 + 1 + 1 = 5) equals one tile covering the volume,
   faces included (both mirror the same way), on any number of ranks. */
static PetscErrorCode TestTiledAuto(void)
{
  const ptrdiff_t n[3] = {19, 23, 30};
  const PetscInt  N = 19 * 23 * 30;
  PdNN            net;
  float          *in, *out, *one, *th;
  PetscInt        np, T = 8, V, R, e0;
  double          err = 0, ref = 0;

  PetscFunctionBegin;
  PetscCall(PdNNCreate(3, &net));
  PetscCall(PdNNAddConv(net, "c1", 1, 3, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNAddLeakyReLU(net, "r1", 0.1));
  PetscCall(PdNNGetLast(net, &e0));
  PetscCall(PdNNAddMaxPool2(net, "p1"));
  PetscCall(PdNNAddConv(net, "c2", 3, 4, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNAddConvTranspose2(net, "t2", 4, 3, PETSC_TRUE));
  PetscCall(PdNNAddConcat(net, "cat", e0));
  PetscCall(PdNNAddConv(net, "c3", 6, 1, 3, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNGetParams(net, &th, &np));
  Random(th, np, -0.5, 0.5);
  PetscCall(PdNNTiledPlan(net, n, &T, &V, &R));
  /* V = 4·5 (a multiple of 2); T grown to 3V/2 = 30, below one tile's 30 + 20 */
  PD_EXPECT(R == 5 && V == 20 && T == 30, "plan: radius %" PetscInt_FMT ", overlap %" PetscInt_FMT ", tile %" PetscInt_FMT ", expected 5, 20, 30", R, V, T);
  PetscCall(PetscMalloc3(N, &in, N, &out, N, &one));
  Random(in, N, 0, 1);
  PetscCall(PdNNApplyTiled(net, PETSC_COMM_WORLD, n, in, T, V, out));
  PetscCall(PdNNApplyTiled(net, PETSC_COMM_WORLD, n, in, 50, V, one));
  for (PetscInt q = 0; q < N; q++) {
    err = PetscMax(err, fabs((double)out[q] - one[q]));
    ref = PetscMax(ref, fabs((double)one[q]));
  }
  PD_EXPECT(err <= 1e-5 * ref, "tiled inference with the planned overlap differs from one tile by %g (max %g)", err, ref);
  PetscCall(PetscFree3(in, out, one));
  PetscCall(PdNNDestroy(&net));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(TestBlur(3));
  PetscCall(TestBlur(4));
  PetscCall(TestSimplex());
  PetscCall(TestShapes());
  PetscCall(TestRankInvariance(PETSC_FALSE));
  PetscCall(TestRankInvariance(PETSC_TRUE));
  PetscCall(TestBlindKernel());
  PetscCall(TestTiled());
  PetscCall(TestTiledAuto());
  return PdTestFinalize("test_cyclegan");
}
