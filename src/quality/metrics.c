/* Distributed image-quality metrics (PSNR, SSIM, RSNR) with rank-count independent results.

   Every sum is accumulated per global plane in a fixed (y, x) order; the per-plane partial sums are
   combined with an allreduce over a zero-padded array with one entry per plane (each entry has a
   single non-zero contributor, so the reduction is exact) and then added in plane order. */
#include <pdecon/quality/metrics.h>
#include <pdecon/ops/halo.h>
#include <math.h>

#define SSIM_RADIUS 5 /* scipy: int(truncate * sigma + 0.5) with truncate 3.5, sigma 1.5 */

static PetscErrorCode CheckPair(const PdLayout *le, const PdLayout *lt)
{
  PetscFunctionBegin;
  PdCheckAll(le->comm, le->n[0] == lt->n[0] && le->n[1] == lt->n[1] && le->n[2] == lt->n[2] && le->z0 == lt->z0 && le->nzl == lt->nzl,
             PETSC_ERR_ARG_SIZ, "metric: estimate and truth must have the same size and slabs");
  PetscCheck(PdLayoutGlobalCount(le) > 0, le->comm, PETSC_ERR_ARG_SIZ, "metric of an empty volume");
  PetscFunctionReturn(0);
}

/* ps holds nq sums per global plane (zero for planes of other ranks); on return tot[q] is the
   in-order total over planes on every rank. */
static PetscErrorCode ReduceByPlane(const PdLayout *l, int nq, double *ps, double *tot)
{
  PetscFunctionBegin;
  PetscCheck(l->n[0] * nq <= PETSC_MPI_INT_MAX, l->comm, PETSC_ERR_ARG_SIZ, "too many planes");
  PetscCall(PdAllreduceSum(l->comm, ps, (int)(l->n[0] * nq)));
  for (int q = 0; q < nq; q++) tot[q] = 0;
  for (ptrdiff_t z = 0; z < l->n[0]; z++)
    for (int q = 0; q < nq; q++) tot[q] += ps[z * nq + q];
  PetscFunctionReturn(0);
}

/* Data range max(truth) - min(truth) (max and min are exact under any reduction order). */
static PetscErrorCode TruthRange(const PdLayout *lt, const float *t, double *range)
{
  double mn = PETSC_INFINITY, mx = PETSC_NINFINITY;

  PetscFunctionBegin;
  for (ptrdiff_t z = 0; z < lt->nzl; z++)
    for (ptrdiff_t y = 0; y < lt->n[1]; y++) {
      const float *r = t + z * lt->ps + y * lt->rs;
      for (ptrdiff_t x = 0; x < lt->n[2]; x++) {
        mn = PetscMin(mn, (double)r[x]);
        mx = PetscMax(mx, (double)r[x]);
      }
    }
  PetscCall(PdAllreduceMin(lt->comm, &mn, 1));
  PetscCall(PdAllreduceMax(lt->comm, &mx, 1));
  *range = mx - mn;
  PetscFunctionReturn(0);
}

PetscErrorCode PdMetricPSNR(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *psnr)
{
  double *ps, sse, R;

  PetscFunctionBegin;
  PetscCall(CheckPair(le, lt));
  PetscCall(TruthRange(lt, truth, &R));
  PetscCall(PetscCalloc1(le->n[0], &ps));
  for (ptrdiff_t z = 0; z < le->nzl; z++) {
    double s = 0;
    for (ptrdiff_t y = 0; y < le->n[1]; y++) {
      const float *e = est + z * le->ps + y * le->rs, *t = truth + z * lt->ps + y * lt->rs;
      for (ptrdiff_t x = 0; x < le->n[2]; x++) {
        double d = (double)e[x] - (double)t[x];
        s += d * d;
      }
    }
    ps[le->z0 + z] = s;
  }
  PetscCall(ReduceByPlane(le, 1, ps, &sse));
  PetscCall(PetscFree(ps));
  *psnr = sse > 0 ? 10.0 * log10(R * R / (sse / (double)PdLayoutGlobalCount(le))) : (double)INFINITY;
  PetscFunctionReturn(0);
}

PetscErrorCode PdMetricPSNRScaled(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *psnr)
{
  double *ps, s[3], R, a = 0, sse;

  PetscFunctionBegin;
  PetscCall(CheckPair(le, lt));
  PetscCall(TruthRange(lt, truth, &R));
  PetscCall(PetscMalloc1(3 * le->n[0], &ps));
  for (ptrdiff_t i = 0; i < 3 * le->n[0]; i++) ps[i] = 0;
  /* sum e t, sum e^2, sum t^2 per plane; the residual sum (t - a e)^2 = tt - 2 a et + a^2 ee
     cancels badly when the fit is good, so it gets a second pass */
  for (int pass = 0; pass < 2; pass++) {
    for (ptrdiff_t z = 0; z < le->nzl; z++) {
      double et = 0, ee = 0;
      for (ptrdiff_t y = 0; y < le->n[1]; y++) {
        const float *e = est + z * le->ps + y * le->rs, *t = truth + z * lt->ps + y * lt->rs;
        for (ptrdiff_t x = 0; x < le->n[2]; x++) {
          double ev = e[x], tv = t[x];
          if (pass == 0) {
            et += ev * tv;
            ee += ev * ev;
          } else {
            double d = tv - a * ev;
            et += d * d;
          }
        }
      }
      ps[3 * (le->z0 + z)]     = et;
      ps[3 * (le->z0 + z) + 1] = ee;
    }
    if (pass == 0) {
      PetscCall(ReduceByPlane(le, 3, ps, s));
      a = s[1] > 0 ? s[0] / s[1] : 0.0;
      for (ptrdiff_t i = 0; i < 3 * le->n[0]; i++) ps[i] = 0;
    } else PetscCall(ReduceByPlane(le, 3, ps, s));
  }
  sse = s[0];
  PetscCall(PetscFree(ps));
  *psnr = sse > 0 ? 10.0 * log10(R * R / (sse / (double)PdLayoutGlobalCount(le))) : (double)INFINITY;
  PetscFunctionReturn(0);
}

PetscErrorCode PdMetricAll(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, PdQuality *q)
{
  PetscFunctionBegin;
  PetscCall(PdMetricPSNR(le, est, lt, truth, &q->psnr));
  PetscCall(PdMetricPSNRScaled(le, est, lt, truth, &q->psnr_scaled));
  PetscCall(PdMetricRSNR(le, est, lt, truth, &q->rsnr));
  if (le->n[0] > 2 * SSIM_RADIUS && le->n[1] > 2 * SSIM_RADIUS && le->n[2] > 2 * SSIM_RADIUS) PetscCall(PdMetricSSIM(le, est, lt, truth, &q->ssim));
  else q->ssim = (double)NAN;
  PetscFunctionReturn(0);
}

PetscErrorCode PdMetricRSNR(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *rsnr)
{
  const double N = (double)PdLayoutGlobalCount(le);
  double      *ps, m[2], c[2], r[2], a, b;

  PetscFunctionBegin;
  PetscCall(CheckPair(le, lt));
  PetscCall(PetscMalloc1(2 * le->n[0], &ps));
  /* Three passes for accuracy: means; centred moments, giving a = cov(e, t) / var(e) and
     b = mean(t) - a mean(e); then the residual itself rather than var(t) - a cov (cancellation). */
  for (int pass = 0; pass < 3; pass++) {
    for (ptrdiff_t i = 0; i < 2 * le->n[0]; i++) ps[i] = 0;
    for (ptrdiff_t z = 0; z < le->nzl; z++) {
      double s0 = 0, s1 = 0;
      for (ptrdiff_t y = 0; y < le->n[1]; y++) {
        const float *e = est + z * le->ps + y * le->rs, *t = truth + z * lt->ps + y * lt->rs;
        for (ptrdiff_t x = 0; x < le->n[2]; x++) {
          double ev = e[x], tv = t[x];
          if (pass == 0) {
            s0 += ev;
            s1 += tv;
          } else if (pass == 1) {
            s0 += (ev - m[0]) * (ev - m[0]);
            s1 += (ev - m[0]) * (tv - m[1]);
          } else {
            double d = tv - a * ev - b;
            s0 += tv * tv;
            s1 += d * d;
          }
        }
      }
      ps[2 * (le->z0 + z)]     = s0;
      ps[2 * (le->z0 + z) + 1] = s1;
    }
    if (pass == 0) {
      PetscCall(ReduceByPlane(le, 2, ps, m));
      m[0] /= N;
      m[1] /= N;
    } else if (pass == 1) {
      PetscCall(ReduceByPlane(le, 2, ps, c));
      a = c[0] > 0 ? c[1] / c[0] : 0.0; /* constant estimate: the best fit is the mean of truth */
      b = m[1] - a * m[0];
    } else PetscCall(ReduceByPlane(le, 2, ps, r));
  }
  PetscCall(PetscFree(ps));
  *rsnr = r[1] > 0 ? 10.0 * log10(r[0] / r[1]) : (double)INFINITY;
  PetscFunctionReturn(0);
}

/* SSIM. The filter of scipy.ndimage.gaussian_filter (axis z, then y, then x) with
   w_d = exp(-d^2 / (2 1.5^2)) / sum, |d| <= 5. Only outputs at least 5 voxels from every face
   enter the mean, and their filter inputs all lie inside the volume, so the boundary rule never
   matters for the result; the halo exchange supplies the 5 planes on either side of the slab.
   Per plane: z-filter the five products e, t, e^2, t^2, e t from the extended slabs, filter the
   cropped rows in y, then the cropped columns in x, and sum S over the cropped plane. */
PetscErrorCode PdMetricSSIM(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *ssim)
{
  const int       K = SSIM_RADIUS;
  const ptrdiff_t n0 = le->n[0], n1 = le->n[1], n2 = le->n[2], plane = n1 * n2, m1 = n1 - 2 * K, m2 = n2 - 2 * K;
  double          w[2 * SSIM_RADIUS + 1], ws = 0, R, C1, C2, *ps, *zf, *yf, *f[5], tot;
  float          *xe, *xt;

  PetscFunctionBegin;
  PetscCall(CheckPair(le, lt));
  PetscCheck(n0 > 2 * K && n1 > 2 * K && n2 > 2 * K, le->comm, PETSC_ERR_ARG_SIZ,
             "SSIM needs at least %d voxels along every axis (got %td x %td x %td)", 2 * K + 1, n0, n1, n2);
  PetscCall(TruthRange(lt, truth, &R));
  PetscCheck(R > 0, le->comm, PETSC_ERR_ARG_OUTOFRANGE, "SSIM: the truth is constant (data range 0)");
  C1 = (0.01 * R) * (0.01 * R);
  C2 = (0.03 * R) * (0.03 * R);
  for (int d = -K; d <= K; d++) ws += (w[d + K] = exp(-0.5 * d * d / (1.5 * 1.5)));
  for (int d = 0; d <= 2 * K; d++) w[d] /= ws;

  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, (le->nzl + 2 * K) * plane), &xe));
  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, (le->nzl + 2 * K) * plane), &xt));
  PetscCall(PdHaloExchange(le, est, K, PD_HALO_MIRROR, xe));
  PetscCall(PdHaloExchange(lt, truth, K, PD_HALO_MIRROR, xt));
  PetscCall(PetscCalloc1(n0, &ps));
  PetscCall(PetscMalloc3(plane, &zf, m1 * n2, &yf, 5 * m1 * m2, &f[0]));
  for (int q = 1; q < 5; q++) f[q] = f[0] + q * m1 * m2;

  for (ptrdiff_t z = 0; z < le->nzl; z++) {
    const ptrdiff_t gz = le->z0 + z;
    double          s  = 0;
    if (gz < K || gz >= n0 - K) continue;
    for (int q = 0; q < 5; q++) {
      /* z: ext plane z + K is global gz */
      for (ptrdiff_t i = 0; i < plane; i++) zf[i] = 0;
      for (int d = 0; d <= 2 * K; d++) {
        const float *pe = xe + (z + d) * plane, *pt = xt + (z + d) * plane;
        const double wd = w[d];
        switch (q) {
        case 0: for (ptrdiff_t i = 0; i < plane; i++) zf[i] += wd * pe[i]; break;
        case 1: for (ptrdiff_t i = 0; i < plane; i++) zf[i] += wd * pt[i]; break;
        case 2: for (ptrdiff_t i = 0; i < plane; i++) zf[i] += wd * ((double)pe[i] * pe[i]); break;
        case 3: for (ptrdiff_t i = 0; i < plane; i++) zf[i] += wd * ((double)pt[i] * pt[i]); break;
        default: for (ptrdiff_t i = 0; i < plane; i++) zf[i] += wd * ((double)pe[i] * pt[i]); break;
        }
      }
      /* y: output rows K .. n1-K-1 */
      for (ptrdiff_t y = 0; y < m1; y++) {
        double *o = yf + y * n2;
        for (ptrdiff_t x = 0; x < n2; x++) o[x] = 0;
        for (int d = 0; d <= 2 * K; d++) {
          const double *in = zf + (y + d) * n2, wd = w[d];
          for (ptrdiff_t x = 0; x < n2; x++) o[x] += wd * in[x];
        }
      }
      /* x: output columns K .. n2-K-1 */
      for (ptrdiff_t y = 0; y < m1; y++) {
        const double *in = yf + y * n2;
        double       *o  = f[q] + y * m2;
        for (ptrdiff_t x = 0; x < m2; x++) {
          double acc = 0;
          for (int d = 0; d <= 2 * K; d++) acc += w[d] * in[x + d];
          o[x] = acc;
        }
      }
    }
    for (ptrdiff_t i = 0; i < m1 * m2; i++) {
      const double ue = f[0][i], ut = f[1][i];
      const double ve = f[2][i] - ue * ue, vt = f[3][i] - ut * ut, cv = f[4][i] - ue * ut;
      s += ((2 * ue * ut + C1) * (2 * cv + C2)) / ((ue * ue + ut * ut + C1) * (ve + vt + C2));
    }
    ps[gz] = s;
  }
  PetscCall(ReduceByPlane(le, 1, ps, &tot));
  *ssim = tot / ((double)(n0 - 2 * K) * (double)m1 * (double)m2);
  PetscCall(PetscFree3(zf, yf, f[0]));
  PetscCall(PetscFree(ps));
  PetscCall(PdVolumeFree(&xe));
  PetscCall(PdVolumeFree(&xt));
  PetscFunctionReturn(0);
}
