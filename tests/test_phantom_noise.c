/* Microtubule phantom and Poisson-Gaussian noise: identical bit for bit whatever the slab
   decomposition (each rank compares its slab with a whole volume made on PETSC_COMM_SELF), value
   range of the phantom, SNR and noise statistics. Option -timing times a 64x256x256 phantom. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/sim/phantom.h>
#include <pdecon/sim/noise.h>
#include <math.h>

static const ptrdiff_t N[3] = {16, 96, 96};

/* An uneven decomposition with padded rows and planes (and an empty rank on 3 ranks). */
static PetscErrorCode UnevenLayout(PdLayout **lay)
{
  int       rank, size;
  ptrdiff_t z0, nz;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  if (size == 3) {
    const ptrdiff_t cnt[3] = {5, 0, 11}, st[3] = {0, 5, 5};
    z0 = st[rank];
    nz = cnt[rank];
  } else {
    ptrdiff_t b = (N[0] * 2 / 3 + size - 1) / size; /* most planes on the first ranks */
    z0 = PetscMin(N[0], rank * b);
    nz = (rank == size - 1 ? N[0] : PetscMin(N[0], z0 + b)) - z0;
  }
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, N, z0, nz, N[2] + 3, (N[2] + 3) * N[1] + 5, lay));
  PetscFunctionReturn(0);
}

/* Does the local slab of v equal the same planes of the compact whole volume g, bit for bit? */
static PetscBool SlabEquals(const PdLayout *l, const float *v, const float *g)
{
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t x = 0; x < l->n[2]; x++)
        if (v[z * l->ps + y * l->rs + x] != g[((l->z0 + z) * l->n[1] + y) * l->n[2] + x]) return PETSC_FALSE;
  return PETSC_TRUE;
}

static PetscErrorCode WholeOnSelf(const PdPhantomOptions *o, float **g, PdLayout **self)
{
  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, N, self));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(*self), g));
  PetscCall(PdPhantomMicrotubules(o, *self, *g));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestPhantom(const PdPhantomOptions *o, const float *g, const PdLayout *self)
{
  PdLayout *lay[2];
  ptrdiff_t cnt = N[0] * N[1] * N[2], zeros = 0, ones = 0;
  double    vmin = 1e300, vmax = -1e300;

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < cnt; i++) {
    vmin = PetscMin(vmin, g[i]);
    vmax = PetscMax(vmax, g[i]);
    zeros += g[i] == 0;
    ones += g[i] == 1.0f;
  }
  PD_EXPECT(vmin >= 0 && vmax == 1.0 && ones >= 1, "phantom range [%g, %g]", vmin, vmax);
  PD_EXPECT(zeros > cnt / 2 && zeros < cnt - cnt / 100, "phantom: %td of %td voxels are zero", zeros, cnt);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "phantom %td x %td x %td: %.1f %% of voxels non-zero\n", N[0], N[1], N[2], 100.0 * (double)(cnt - zeros) / (double)cnt));

  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, N, &lay[0]));
  PetscCall(UnevenLayout(&lay[1]));
  for (int k = 0; k < 2; k++) {
    PdLayout *l = lay[k];
    size_t    m = PdLayoutLocalSize(l);
    float    *v;
    PetscBool padok = PETSC_TRUE;
    PetscCall(PdVolumeAlloc(m, &v));
    for (size_t i = 0; i < m; i++) v[i] = -7.0f;
    PetscCall(PdPhantomMicrotubules(o, l, v));
    PD_EXPECT(SlabEquals(l, v, g), "layout %d: phantom slab differs from the serial phantom", k);
    {
      float *all = NULL;
      PetscCall(PdVolumeGather(l, v, 0, &all));
      if (l->rank == 0) {
        ptrdiff_t diff = 0;
        for (ptrdiff_t i = 0; i < cnt; i++) diff += all[i] != g[i];
        PD_EXPECT(diff == 0, "layout %d: gathered phantom differs from the serial one in %td voxels", k, diff);
      }
      PetscCall(PetscFree(all));
    }
    for (ptrdiff_t z = 0; z < l->nzl; z++)
      for (ptrdiff_t y = 0; y < l->n[1]; y++)
        for (ptrdiff_t x = l->n[2]; x < l->rs && z * l->ps + y * l->rs + x < (ptrdiff_t)m; x++)
          if (v[z * l->ps + y * l->rs + x] != -7.0f) padok = PETSC_FALSE;
    PD_EXPECT(padok, "phantom wrote into row padding");
    PetscCall(PdVolumeFree(&v));
    PetscCall(PdLayoutDestroy(&l));
  }
  /* Another seed, another phantom. */
  {
    PdPhantomOptions o2 = *o;
    float           *h;
    o2.seed++;
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(self), &h));
    PetscCall(PdPhantomMicrotubules(&o2, self, h));
    PD_EXPECT(PdTestRelDiff(h, g, (size_t)cnt) > 0.5, "seed does not change the phantom");
    PetscCall(PdVolumeFree(&h));
  }
  PetscFunctionReturn(0);
}

/* Noise on the phantom: reproducible across decompositions; SNR and residual statistics.
   The residual is y - (s v + b), whose expected square is s v + b + read_sigma^2. */
static PetscErrorCode TestNoise(const float *g, const PdLayout *self, double snr, double bg, double rd)
{
  ptrdiff_t cnt = N[0] * N[1] * N[2];
  float    *ref, *v;
  double    s, s2, sig = 0, res = 0, res2 = 0, var = 0, var2 = 0, meas;
  PdLayout *l;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc((size_t)cnt, &ref));
  for (ptrdiff_t i = 0; i < cnt; i++) ref[i] = g[i];
  PetscCall(PdNoisePoissonGaussian(self, ref, snr, bg, rd, 42, &s));
  for (ptrdiff_t i = 0; i < cnt; i++) {
    double m = s * g[i], r = ref[i] - m - bg;
    sig += m * m;
    res += r;
    res2 += r * r;
    var += m + bg + rd * rd;
    /* Var((y - mu)^2) for Poisson(mu) + N(0, rd^2): mu + 2 (mu + rd^2)^2 */
    var2 += m + bg + 2 * (m + bg + rd * rd) * (m + bg + rd * rd);
  }
  meas = 10 * log10(sig / res2);
  PD_EXPECT(fabs(meas - snr) < 0.5, "target SNR %g dB, measured %g dB", snr, meas);
  PD_EXPECT(fabs(10 * log10(sig / var) - snr) < 1e-9, "scale does not give the target SNR by definition");
  PD_EXPECT(fabs(res) < 5 * sqrt(var), "noise mean %g, expected 0 +- %g", res / (double)cnt, sqrt(var) / (double)cnt);
  PD_EXPECT(fabs(res2 - var) < 5 * sqrt(var2), "noise variance / expected = %g +- %g", res2 / var, sqrt(var2) / var);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "noise SNR %g dB (b %g, read %g): scale %.4g, measured %.3f dB, variance ratio %.4f +- %.4f\n", snr, bg, rd, s, meas, res2 / var, sqrt(var2) / var));

  PetscCall(UnevenLayout(&l));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(l), &v));
  PetscCall(PdVolumeScatterFromGlobal(l, g, v));
  PetscCall(PdNoisePoissonGaussian(l, v, snr, bg, rd, 42, &s2));
  PD_EXPECT(s2 == s, "scale differs from the serial scale (%.17g vs %.17g)", s2, s);
  PD_EXPECT(SlabEquals(l, v, ref), "noisy slab differs from the serial result");
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&l));
  PetscCall(PdVolumeFree(&ref));
  PetscFunctionReturn(0);
}

/* Poisson sampler on a constant image: with b = read = 0 the scale is 10^(snr/10), the mean. */
static PetscErrorCode TestPoisson(const PdLayout *self, double mu)
{
  ptrdiff_t cnt = N[0] * N[1] * N[2], zeros = 0;
  float    *v;
  double    s, m1 = 0, m2 = 0, snr = 10 * log10(mu), sdm, sdv, integral = 1;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc((size_t)cnt, &v));
  for (ptrdiff_t i = 0; i < cnt; i++) v[i] = 0.25f;
  PetscCall(PdNoisePoissonGaussian(self, v, snr, 0, 0, 7, &s));
  PD_EXPECT(fabs(0.25 * s - mu) < 1e-9 * mu, "constant image: mean %g, expected %g", 0.25 * s, mu);
  for (ptrdiff_t i = 0; i < cnt; i++) {
    m1 += v[i];
    zeros += v[i] == 0;
    integral = integral && v[i] == floorf(v[i]) && v[i] >= 0;
  }
  m1 /= (double)cnt;
  for (ptrdiff_t i = 0; i < cnt; i++) m2 += (v[i] - m1) * (v[i] - m1);
  m2 /= (double)(cnt - 1);
  sdm = sqrt(mu / (double)cnt);
  sdv = sqrt((mu + 2 * mu * mu) / (double)cnt);
  PD_EXPECT(integral, "Poisson counts are not non-negative integers");
  PD_EXPECT(fabs(m1 - mu) < 5 * sdm, "Poisson(%g): sample mean %g", mu, m1);
  PD_EXPECT(fabs(m2 - mu) < 5 * sdv, "Poisson(%g): sample variance %g", mu, m2);
  if (mu < 5) {
    double p0 = exp(-mu), f0 = (double)zeros / (double)cnt;
    PD_EXPECT(fabs(f0 - p0) < 5 * sqrt(p0 * (1 - p0) / (double)cnt), "Poisson(%g): P(0) %g, expected %g", mu, f0, p0);
  }
  PetscCall(PdVolumeFree(&v));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PdPhantomOptions o;
  PdLayout        *self;
  float           *g;
  PetscBool        timing = PETSC_FALSE;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PdPhantomOptionsDefault(&o));
  o.ntubes = 8;
  PetscCall(PdPhantomOptionsSetFromOptions(&o, NULL));
  PetscCall(WholeOnSelf(&o, &g, &self));
  PetscCall(TestPhantom(&o, g, self));
  PetscCall(TestNoise(g, self, 20, 0, 0));
  PetscCall(TestNoise(g, self, 10, 10, 2));
  PetscCall(TestNoise(g, self, 20, 3, 1.5));
  PetscCall(TestPoisson(self, 0.7));
  PetscCall(TestPoisson(self, 9.5));
  PetscCall(TestPoisson(self, 50));
  PetscCall(TestPoisson(self, 2e4));
  {
    PetscErrorCode e;
    float          z[4] = {0, 0, 0, 0};
    ptrdiff_t      m[3] = {1, 2, 2};
    PdLayout      *t;
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, m, &t));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    e = PdNoisePoissonGaussian(t, z, 10, 0, 0, 1, NULL);
    PD_EXPECT(e == PETSC_ERR_ARG_OUTOFRANGE, "zero image accepted");
    z[1] = -1;
    e    = PdNoisePoissonGaussian(t, z, 10, 0, 0, 1, NULL);
    PD_EXPECT(e == PETSC_ERR_ARG_OUTOFRANGE, "negative image accepted");
    o.r_inner = 30;
    e         = PdPhantomMicrotubules(&o, t, z);
    PD_EXPECT(e == PETSC_ERR_ARG_OUTOFRANGE, "r_inner > r_outer accepted");
    PetscCall(PetscPopErrorHandler());
    PetscCall(PdLayoutDestroy(&t));
  }
  PetscCall(PdVolumeFree(&g));
  PetscCall(PdLayoutDestroy(&self));

  PetscCall(PetscOptionsHasName(NULL, NULL, "-timing", &timing));
  if (timing) {
    ptrdiff_t m[3] = {64, 256, 256};
    PdLayout *l;
    float    *v;
    double    t;
    PetscCall(PdPhantomOptionsDefault(&o));
    PetscCall(PdPhantomOptionsSetFromOptions(&o, NULL));
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, m, &l));
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(l), &v));
    t = PdTime();
    PetscCall(PdPhantomMicrotubules(&o, l, v));
    t = PdTime() - t;
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "phantom 64x256x256: %.3f s\n", t));
    t = PdTime();
    PetscCall(PdNoisePoissonGaussian(l, v, 20, 10, 2, 1, NULL));
    t = PdTime() - t;
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "noise 64x256x256: %.3f s\n", t));
    PetscCall(PdVolumeFree(&v));
    PetscCall(PdLayoutDestroy(&l));
  }
  return PdTestFinalize("phantom_noise");
}
