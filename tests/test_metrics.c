/* Metrics: PSNR against a hand value, SSIM against a brute-force serial 3-D window (written here
   independently: full 11^3 Gaussian window, reflect boundary), RSNR against the closed-form fit and
   its affine invariance, and identical results on any number of ranks. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/quality/metrics.h>
#include <math.h>

static const ptrdiff_t N[3] = {13, 12, 14};
#define IDX(z, y, x) (((z) * N[1] + (y)) * N[2] + (x))

static ptrdiff_t Reflect(ptrdiff_t i, ptrdiff_t n)
{
  while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - 1 - i;
  return i;
}

/* scikit-image structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
   data_range=R), written out with a full 3-D window. */
static double SerialSSIM(const float *e, const float *t, double R)
{
  double w1[11], ws = 0, sum = 0, C1 = (0.01 * R) * (0.01 * R), C2 = (0.03 * R) * (0.03 * R);
  long   cnt = 0;
  for (int d = 0; d < 11; d++) ws += (w1[d] = exp(-(d - 5) * (d - 5) / (2 * 2.25)));
  for (int d = 0; d < 11; d++) w1[d] /= ws;
  for (ptrdiff_t z = 5; z < N[0] - 5; z++)
    for (ptrdiff_t y = 5; y < N[1] - 5; y++)
      for (ptrdiff_t x = 5; x < N[2] - 5; x++) {
        double m[5] = {0, 0, 0, 0, 0};
        for (int a = 0; a < 11; a++)
          for (int b = 0; b < 11; b++)
            for (int c = 0; c < 11; c++) {
              ptrdiff_t i  = IDX(Reflect(z + a - 5, N[0]), Reflect(y + b - 5, N[1]), Reflect(x + c - 5, N[2]));
              double    ww = w1[a] * w1[b] * w1[c], ev = e[i], tv = t[i];
              m[0] += ww * ev;
              m[1] += ww * tv;
              m[2] += ww * ev * ev;
              m[3] += ww * tv * tv;
              m[4] += ww * ev * tv;
            }
        double ve = m[2] - m[0] * m[0], vt = m[3] - m[1] * m[1], cv = m[4] - m[0] * m[1];
        sum += (2 * m[0] * m[1] + C1) * (2 * cv + C2) / ((m[0] * m[0] + m[1] * m[1] + C1) * (ve + vt + C2));
        cnt++;
      }
  return sum / (double)cnt;
}

static double SerialRSNR(const float *e, const float *t, ptrdiff_t n)
{
  double se = 0, st = 0, cee = 0, cet = 0, tt = 0, rr = 0, a, b;
  for (ptrdiff_t i = 0; i < n; i++) {
    se += e[i];
    st += t[i];
  }
  se /= (double)n;
  st /= (double)n;
  for (ptrdiff_t i = 0; i < n; i++) {
    cee += (e[i] - se) * (e[i] - se);
    cet += (e[i] - se) * (t[i] - st);
  }
  a = cet / cee;
  b = st - a * se;
  for (ptrdiff_t i = 0; i < n; i++) {
    tt += (double)t[i] * t[i];
    rr += (t[i] - a * e[i] - b) * (t[i] - a * e[i] - b);
  }
  return 10 * log10(tt / rr);
}

/* PSNR after the least-squares scale a = sum e t / sum e^2, written out directly. */
static double SerialPSNRScaled(const float *e, const float *t, ptrdiff_t n, double R)
{
  double et = 0, ee = 0, rr = 0, a;
  for (ptrdiff_t i = 0; i < n; i++) {
    et += (double)e[i] * t[i];
    ee += (double)e[i] * e[i];
  }
  a = et / ee;
  for (ptrdiff_t i = 0; i < n; i++) rr += (t[i] - a * e[i]) * (t[i] - a * e[i]);
  return 10 * log10(R * R / (rr / (double)n));
}

/* The least-squares-scaled PSNR on PETSC_COMM_WORLD (even slabs) and on each rank alone. */
static PetscErrorCode ScaledOnWorld(const float *e, const float *t, double *world, double *self)
{
  PdLayout *lw, *ls;
  float    *ve, *vt;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, N, &lw));
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, N, &ls));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lw), &ve));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lw), &vt));
  PetscCall(PdVolumeScatterFromGlobal(lw, e, ve));
  PetscCall(PdVolumeScatterFromGlobal(lw, t, vt));
  PetscCall(PdMetricPSNRScaled(lw, ve, lw, vt, world));
  PetscCall(PdMetricPSNRScaled(ls, e, ls, t, self));
  PetscCall(PdVolumeFree(&ve));
  PetscCall(PdVolumeFree(&vt));
  PetscCall(PdLayoutDestroy(&lw));
  PetscCall(PdLayoutDestroy(&ls));
  PetscFunctionReturn(0);
}

/* The three metrics of whole volumes on this rank alone (PETSC_COMM_SELF). */
static PetscErrorCode OnSelf(const float *e, const float *t, double m[3])
{
  PdLayout *l;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, N, &l));
  PetscCall(PdMetricPSNR(l, e, l, t, &m[0]));
  PetscCall(PdMetricSSIM(l, e, l, t, &m[1]));
  PetscCall(PdMetricRSNR(l, e, l, t, &m[2]));
  PetscCall(PdLayoutDestroy(&l));
  PetscFunctionReturn(0);
}

/* The same on PETSC_COMM_WORLD with uneven slabs (an empty rank on 3 ranks) and different strides
   for estimate and truth. */
static PetscErrorCode OnWorld(const float *e, const float *t, double m[3])
{
  PdLayout *le, *lt;
  float    *ve, *vt;
  int       rank, size;
  ptrdiff_t z0, nz;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  if (size == 3) {
    const ptrdiff_t c[3] = {6, 0, 7}, s[3] = {0, 6, 6};
    z0 = s[rank];
    nz = c[rank];
  } else {
    ptrdiff_t b = (N[0] + size - 1) / size;
    z0 = PetscMin(N[0], rank * b);
    nz = PetscMin(N[0], z0 + b) - z0;
  }
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, N, z0, nz, N[2] + 2, (N[2] + 2) * N[1] + 3, &le));
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, N, z0, nz, N[2], N[2] * N[1], &lt));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(le), &ve));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lt), &vt));
  PetscCall(PdVolumeScatterFromGlobal(le, e, ve));
  PetscCall(PdVolumeScatterFromGlobal(lt, t, vt));
  PetscCall(PdMetricPSNR(le, ve, lt, vt, &m[0]));
  PetscCall(PdMetricSSIM(le, ve, lt, vt, &m[1]));
  PetscCall(PdMetricRSNR(le, ve, lt, vt, &m[2]));
  PetscCall(PdVolumeFree(&ve));
  PetscCall(PdVolumeFree(&vt));
  PetscCall(PdLayoutDestroy(&le));
  PetscCall(PdLayoutDestroy(&lt));
  PetscFunctionReturn(0);
}

static double RelDiff(double a, double b) { return fabs(a - b) / PetscMax(fabs(b), 1e-300); }

int main(int argc, char **argv)
{
  const ptrdiff_t    cnt = N[0] * N[1] * N[2];
  float             *t, *e, *e2;
  unsigned long long st = 12345;
  double             ms[3], mw[3], ref;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PetscMalloc3(cnt, &t, cnt, &e, cnt, &e2));
  /* Truth: smooth structure plus texture, values multiples of 1/64 in [0, 2] (exact in float). */
  for (ptrdiff_t z = 0; z < N[0]; z++)
    for (ptrdiff_t y = 0; y < N[1]; y++)
      for (ptrdiff_t x = 0; x < N[2]; x++) {
        double s = 0.5 + 0.4 * sin(0.5 * (double)x) * cos(0.4 * (double)y) * cos(0.3 * (double)z) + 0.1 * PdTestUniform(&st);
        t[IDX(z, y, x)] = (float)(floor(s * 64) / 64);
      }
  t[0]       = 0;
  t[cnt - 1] = 2;

  /* PSNR: a constant error of 1/8 with R = 2 gives 10 log10(4 / (1/64)) = 10 log10(256). */
  for (ptrdiff_t i = 0; i < cnt; i++) e[i] = t[i] + 0.125f;
  PetscCall(OnWorld(e, t, mw));
  PD_EXPECT(fabs(mw[0] - 10 * log10(256.0)) < 1e-10, "PSNR %.12g, expected %.12g", mw[0], 10 * log10(256.0));

  /* Identical volumes: SSIM 1, PSNR and RSNR infinite. */
  PetscCall(OnWorld(t, t, mw));
  PD_EXPECT(fabs(mw[1] - 1) < 1e-6, "SSIM of identical volumes %.10g", mw[1]);
  PD_EXPECT(isinf(mw[0]) && mw[0] > 0, "PSNR of identical volumes %g", mw[0]);

  /* A scaled, offset, noisy estimate: SSIM against the brute-force window, RSNR against the fit. */
  for (ptrdiff_t i = 0; i < cnt; i++) e[i] = (float)(1.3 * t[i] + 0.2 + 0.15 * (PdTestUniform(&st) - 0.5));
  ref = SerialSSIM(e, t, 2.0);
  PetscCall(OnWorld(e, t, mw));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "PSNR %.6f dB, SSIM %.8f (brute force %.8f), RSNR %.6f dB\n", mw[0], mw[1], ref, mw[2]));
  PD_EXPECT(fabs(mw[1] - ref) < 1e-5, "SSIM %.10g, brute force %.10g", mw[1], ref);
  PD_EXPECT(mw[1] > 0.05 && mw[1] < 0.99, "SSIM %g out of the plausible range for this pair", mw[1]);
  PD_EXPECT(RelDiff(mw[2], SerialRSNR(e, t, cnt)) < 1e-9, "RSNR %.12g, serial %.12g", mw[2], SerialRSNR(e, t, cnt));

  /* Same values from the whole volume on PETSC_COMM_SELF. */
  PetscCall(OnSelf(e, t, ms));
  for (int k = 0; k < 3; k++) PD_EXPECT(RelDiff(mw[k], ms[k]) < 1e-10, "metric %d: %.17g on the communicator, %.17g alone", k, mw[k], ms[k]);

  /* RSNR does not see an affine change of the estimate; PSNR and SSIM do. */
  for (ptrdiff_t i = 0; i < cnt; i++) e2[i] = 3 * e[i] + 7;
  PetscCall(OnWorld(e2, t, ms));
  PD_EXPECT(fabs(ms[2] - mw[2]) < 1e-4, "RSNR %g after e -> 3e + 7, %g before", ms[2], mw[2]);
  PD_EXPECT(ms[0] < mw[0] - 10 && ms[1] < mw[1], "PSNR/SSIM insensitive to an affine change");

  /* Least-squares-scaled PSNR: the direct computation; a pure rescaling of the truth scores
     +infinity; it improves on plain PSNR for a mis-scaled estimate; rank-count independent. */
  {
    double w, self, direct = SerialPSNRScaled(e, t, cnt, 2.0);
    PetscCall(ScaledOnWorld(e, t, &w, &self));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "scaled PSNR %.10f dB (direct %.10f)\n", w, direct));
    PD_EXPECT(RelDiff(w, direct) < 1e-9, "scaled PSNR %.12g, direct %.12g", w, direct);
    PD_EXPECT(w == self, "scaled PSNR %.17g on the communicator, %.17g alone", w, self);
    PD_EXPECT(w > mw[0], "scaled PSNR %g not above plain PSNR %g of a mis-scaled estimate", w, mw[0]);
    for (ptrdiff_t i = 0; i < cnt; i++) e2[i] = 0.25f * t[i];
    PetscCall(ScaledOnWorld(e2, t, &w, &self));
    PD_EXPECT(isinf(w) && w > 0, "scaled PSNR of a scaled truth %g", w);
  }

  {
    PetscErrorCode err;
    ptrdiff_t      m[3] = {13, 10, 14};
    PdLayout      *a, *b;
    double         v;
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, N, &a));
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, m, &b));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    err = PdMetricPSNR(a, e, b, t, &v);
    PD_EXPECT(err == PETSC_ERR_ARG_SIZ, "mismatched sizes accepted");
    err = PdMetricSSIM(b, e, b, t, &v);
    PD_EXPECT(err == PETSC_ERR_ARG_SIZ, "SSIM of a volume thinner than the window accepted");
    PetscCall(PetscPopErrorHandler());
    PetscCall(PdLayoutDestroy(&a));
    PetscCall(PdLayoutDestroy(&b));
  }
  PetscCall(PetscFree3(t, e, e2));
  return PdTestFinalize("metrics");
}
