/* Random microtubule phantom, identical bit for bit on any number of ranks.

   Every rank draws the same tubes and fluorophores from the seed, in the same order (one
   xoshiro256** stream per tube), and adds each fluorophore's voxel weights to the voxels of its own
   slab only. A voxel therefore receives the same float additions in the same order whatever the
   slab decomposition. Cost: the geometry is cheap (1e5 fluorophores); each fluorophore touches a
   box of a few voxels, with 1-D weights precomputed per axis. */
#include <pdecon/sim/phantom.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic random numbers ---- */
static unsigned long long SplitMix64(unsigned long long *s)
{
  unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

typedef struct { unsigned long long s[4]; } Rng;

static inline unsigned long long Rotl(unsigned long long x, int k) { return (x << k) | (x >> (64 - k)); }

static void RngSeed(Rng *r, unsigned long long seed, unsigned long long stream)
{
  unsigned long long sm = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1));
  for (int i = 0; i < 4; i++) r->s[i] = SplitMix64(&sm);
}

/* xoshiro256** (Blackman & Vigna) */
static inline unsigned long long RngNext(Rng *r)
{
  unsigned long long *s = r->s, res = Rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = Rotl(s[3], 45);
  return res;
}

/* Uniform in [0, 1). */
static inline double Uniform(Rng *r) { return (double)(RngNext(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Standard normal (Box-Muller, cosine branch only: one draw, two uniforms). */
static inline double Normal(Rng *r)
{
  double u = 1.0 - Uniform(r), w = Uniform(r);
  return sqrt(-2.0 * log(u)) * cos(2.0 * PETSC_PI * w);
}

/* ---- options ---- */
PetscErrorCode PdPhantomOptionsDefault(PdPhantomOptions *o)
{
  PetscFunctionBegin;
  o->ntubes   = 20;
  o->voxel[0] = 200.0;
  o->voxel[1] = 50.0;
  o->voxel[2] = 50.0;
  /* Microtubule outer radius 12.5 nm; primary + secondary antibodies extend the label to ~25 nm. */
  o->r_inner  = 12.5;
  o->r_outer  = 25.0;
  o->density  = 0.5;
  o->sigma_nm = 10.0;
  o->seed     = 1;
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckOptions(MPI_Comm comm, const PdPhantomOptions *o)
{
  PetscFunctionBegin;
  PetscCheck(o->ntubes >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "phantom: negative number of tubes");
  PetscCheck(o->voxel[0] > 0 && o->voxel[1] > 0 && o->voxel[2] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "phantom: voxel sizes must be positive");
  PetscCheck(o->r_inner >= 0 && o->r_outer >= o->r_inner, comm, PETSC_ERR_ARG_OUTOFRANGE, "phantom: need 0 <= r_inner <= r_outer");
  PetscCheck(o->density >= 0 && o->density <= 1e3, comm, PETSC_ERR_ARG_OUTOFRANGE, "phantom: density must be in [0, 1000] per nm");
  PetscCheck(o->sigma_nm > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "phantom: fluorophore sigma must be positive");
  PetscFunctionReturn(0);
}

PetscErrorCode PdPhantomOptionsSetFromOptions(PdPhantomOptions *o, const char *prefix)
{
  PetscInt  nv;
  PetscBool set;
  char      seed[64], vhelp[96];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(seed, sizeof(seed), "%llu", o->seed));
  /* PETSc's help line shows only the first value of an unset array option: say all three here. */
  PetscCall(PetscSNPrintf(vhelp, sizeof(vhelp), "Voxel size z,y,x in nm (%.6g,%.6g,%.6g)", o->voxel[0], o->voxel[1], o->voxel[2]));
  PetscOptionsBegin(PETSC_COMM_WORLD, prefix, "Microtubule phantom", NULL);
  PetscCall(PetscOptionsInt("-phantom_ntubes", "Number of tubes", NULL, o->ntubes, &o->ntubes, NULL));
  nv = 3; /* the begin/end block may run more than once; the call overwrites nv with the count found */
  PetscCall(PetscOptionsRealArray("-phantom_voxel", vhelp, NULL, o->voxel, &nv, &set));
  PetscCheck(!set || nv == 3, PETSC_COMM_WORLD, PD_ERR_INPUT, "-phantom_voxel needs three values z,y,x");
  PetscCall(PetscOptionsReal("-phantom_r_inner", "Inner radius of the labelled shell (nm)", NULL, o->r_inner, &o->r_inner, NULL));
  PetscCall(PetscOptionsReal("-phantom_r_outer", "Outer radius of the labelled shell (nm)", NULL, o->r_outer, &o->r_outer, NULL));
  PetscCall(PetscOptionsReal("-phantom_density", "Fluorophores per nm of tube", NULL, o->density, &o->density, NULL));
  PetscCall(PetscOptionsReal("-phantom_sigma", "Gaussian size of one fluorophore (nm)", NULL, o->sigma_nm, &o->sigma_nm, NULL));
  PetscCall(PetscOptionsString("-phantom_seed", "Random seed (unsigned 64-bit)", NULL, seed, seed, sizeof(seed), &set));
  PetscOptionsEnd();
  if (set) {
    char *end;
    o->seed = strtoull(seed, &end, 0);
    PetscCheck(*seed && !*end && seed[0] != '-', PETSC_COMM_WORLD, PD_ERR_INPUT, "-phantom_seed: not an unsigned integer: %s", seed);
  }
  PetscCall(CheckOptions(PETSC_COMM_WORLD, o));
  PetscFunctionReturn(0);
}

/* ---- rendering ---- */
typedef struct {
  const PdPhantomOptions *o;
  const PdLayout         *lay;
  float                  *v;
  double                  reach;  /* 4 sigma: the Gaussian's footprint */
  double                  isig;   /* 1 / (sqrt(2) sigma) */
  double                 *w[3];   /* per-axis weights of the current fluorophore */
  long long               nfluo;  /* fluorophores drawn (the same on every rank) */
} Render;

/* Adds the Gaussian of one fluorophore at p (nm, z y x) integrated over each voxel: per axis
   w_i = [erf(((i+1) d - p) / (sqrt 2 sigma)) - erf((i d - p) / (sqrt 2 sigma))] / 2. The z range is
   clipped to this rank's slab; a weight does not depend on the clipping. */
static void RenderFluorophore(Render *R, const double p[3])
{
  const PdLayout *l = R->lay;
  ptrdiff_t       lo[3], hi[3];

  for (int a = 0; a < 3; a++) {
    const double d = R->o->voxel[a];
    ptrdiff_t    mn = a == 0 ? l->z0 : 0, mx = a == 0 ? l->z0 + l->nzl - 1 : l->n[a] - 1;
    double       flo = floor((p[a] - R->reach) / d), fhi = floor((p[a] + R->reach) / d);
    if (fhi < (double)mn || flo > (double)mx) return;
    lo[a] = PetscMax(mn, (ptrdiff_t)flo);
    hi[a] = PetscMin(mx, (ptrdiff_t)fhi);
    double e0 = erf(((double)lo[a] * d - p[a]) * R->isig);
    for (ptrdiff_t i = lo[a]; i <= hi[a]; i++) {
      double e1 = erf(((double)(i + 1) * d - p[a]) * R->isig);
      R->w[a][i - lo[a]] = 0.5 * (e1 - e0);
      e0 = e1;
    }
  }
  for (ptrdiff_t z = lo[0]; z <= hi[0]; z++)
    for (ptrdiff_t y = lo[1]; y <= hi[1]; y++) {
      const double wzy = R->w[0][z - lo[0]] * R->w[1][y - lo[1]];
      float       *row = R->v + (z - l->z0) * l->ps + y * l->rs;
      for (ptrdiff_t x = lo[2]; x <= hi[2]; x++) row[x] += (float)(wzy * R->w[2][x - lo[2]]);
    }
}

/* One half of a tube: a persistent random walk from p in direction (theta, phi) with turn rates
   kappa (azimuth) and omega (elevation) that follow Ornstein-Uhlenbeck processes, so the curvature
   varies slowly. Fluorophores are a Poisson process in arc length, each placed uniformly in the
   annulus r_inner..r_outer of the plane normal to the tangent. Stops when the line leaves the
   volume grown by a margin, or after maxlen nm. */
static void WalkTube(Render *R, Rng *rng, const double p0[3], double theta, double phi, double kappa, double omega,
                     const double lo[3], const double hi[3], double phimax, double maxlen)
{
  const PdPhantomOptions *o    = R->o;
  const double            ds   = 10.0;                       /* step along the centre line, nm */
  const double            corr = exp(-ds / 2000.0);          /* turn rates decorrelate over 2 um */
  const double            sk   = 1.0 / 4000.0, so = 1.0 / 20000.0; /* turn-rate spreads, rad / nm */
  const double            fk   = sqrt(1.0 - corr * corr);
  double                  p[3] = {p0[0], p0[1], p0[2]}, togo, len = 0;

  togo = o->density > 0 ? -log(1.0 - Uniform(rng)) / o->density : 1e300;
  while (len < maxlen) {
    double t[3] = {sin(phi), cos(phi) * sin(theta), cos(phi) * cos(theta)}, along = 0;
    if (p[0] < lo[0] || p[0] > hi[0] || p[1] < lo[1] || p[1] > hi[1] || p[2] < lo[2] || p[2] > hi[2]) break;
    while (togo <= ds - along) {
      double e1[3], e2[3], c[3], q[3], nrm, rr, al;
      along += togo;
      togo = -log(1.0 - Uniform(rng)) / o->density;
      /* Orthonormal frame (t, e1, e2): e1 = t x a / |t x a| with a the axis least aligned with t. */
      const double a[3] = {fabs(t[0]) < 0.9 ? 1.0 : 0.0, 0.0, fabs(t[0]) < 0.9 ? 0.0 : 1.0};
      e1[0] = t[1] * a[2] - t[2] * a[1];
      e1[1] = t[2] * a[0] - t[0] * a[2];
      e1[2] = t[0] * a[1] - t[1] * a[0];
      nrm   = sqrt(e1[0] * e1[0] + e1[1] * e1[1] + e1[2] * e1[2]);
      for (int i = 0; i < 3; i++) e1[i] /= nrm;
      e2[0] = t[1] * e1[2] - t[2] * e1[1];
      e2[1] = t[2] * e1[0] - t[0] * e1[2];
      e2[2] = t[0] * e1[1] - t[1] * e1[0];
      /* Uniform in the annulus: r^2 uniform in [ri^2, ro^2]. */
      rr = sqrt(o->r_inner * o->r_inner + Uniform(rng) * (o->r_outer * o->r_outer - o->r_inner * o->r_inner));
      al = 2.0 * PETSC_PI * Uniform(rng);
      for (int i = 0; i < 3; i++) {
        c[i] = p[i] + along * t[i];
        q[i] = c[i] + rr * (cos(al) * e1[i] + sin(al) * e2[i]);
      }
      R->nfluo++;
      RenderFluorophore(R, q);
    }
    togo -= ds - along;
    for (int i = 0; i < 3; i++) p[i] += ds * t[i];
    len += ds;
    theta += kappa * ds;
    phi += omega * ds;
    if (phi > phimax) { phi = phimax; omega = -fabs(omega); }
    if (phi < -phimax) { phi = -phimax; omega = fabs(omega); }
    kappa = corr * kappa + fk * sk * Normal(rng);
    omega = corr * omega + fk * so * Normal(rng);
  }
}

PetscErrorCode PdPhantomMicrotubules(const PdPhantomOptions *o, const PdLayout *lay, float *v)
{
  Render    R;
  double    L[3], lo[3], hi[3], margin, phimax, maxlen, vmax = 0;
  ptrdiff_t wn[3];

  PetscFunctionBegin;
  PetscCall(CheckOptions(lay->comm, o));
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < lay->n[1]; y++) memset(v + z * lay->ps + y * lay->rs, 0, sizeof(float) * (size_t)lay->n[2]);
  R.nfluo = 0;
  R.o     = o;
  R.lay   = lay;
  R.v     = v;
  R.reach = 4.0 * o->sigma_nm;
  R.isig  = 1.0 / (sqrt(2.0) * o->sigma_nm);
  for (int a = 0; a < 3; a++) {
    L[a]  = (double)lay->n[a] * o->voxel[a];
    wn[a] = (ptrdiff_t)ceil(2.0 * R.reach / o->voxel[a]) + 2;
  }
  PetscCall(PetscMalloc3(wn[0], &R.w[0], wn[1], &R.w[1], wn[2], &R.w[2]));
  /* Tubes continue a little outside the volume so that their labels reach the faces. */
  margin = o->r_outer + R.reach + 2.0 * PetscMax(o->voxel[0], PetscMax(o->voxel[1], o->voxel[2]));
  for (int a = 0; a < 3; a++) {
    lo[a] = -margin;
    hi[a] = L[a] + margin;
  }
  /* Gentle slope: crossing the lateral extent climbs at most half the depth. */
  phimax = atan(0.5 * L[0] / PetscMax(L[1], L[2]));
  maxlen = 4.0 * (L[0] + L[1] + L[2]) + 1000.0;
  for (PetscInt t = 0; t < o->ntubes; t++) {
    Rng    rng;
    double p[3], theta, phi, kappa, omega;
    RngSeed(&rng, o->seed, (unsigned long long)t);
    p[0]  = (0.1 + 0.8 * Uniform(&rng)) * L[0];
    p[1]  = Uniform(&rng) * L[1];
    p[2]  = Uniform(&rng) * L[2];
    theta = 2.0 * PETSC_PI * Uniform(&rng);
    phi   = (2.0 * Uniform(&rng) - 1.0) * phimax;
    kappa = Normal(&rng) / 4000.0;
    omega = Normal(&rng) / 20000.0;
    /* Both halves leave p smoothly: backwards the direction flips and the turn rates change sign. */
    WalkTube(&R, &rng, p, theta, phi, kappa, omega, lo, hi, phimax, maxlen);
    WalkTube(&R, &rng, p, theta + PETSC_PI, -phi, -kappa, -omega, lo, hi, phimax, maxlen);
  }
  PetscCall(PetscFree3(R.w[0], R.w[1], R.w[2]));
  PetscCall(PetscInfo(NULL, "phantom: %" PetscInt_FMT " tubes, %lld fluorophores\n", o->ntubes, R.nfluo));

  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < lay->n[1]; y++) {
      const float *row = v + z * lay->ps + y * lay->rs;
      for (ptrdiff_t x = 0; x < lay->n[2]; x++) vmax = PetscMax(vmax, (double)row[x]);
    }
  PetscCall(PdAllreduceMax(lay->comm, &vmax, 1));
  if (vmax > 0)
    for (ptrdiff_t z = 0; z < lay->nzl; z++)
      for (ptrdiff_t y = 0; y < lay->n[1]; y++) {
        float *row = v + z * lay->ps + y * lay->rs;
        for (ptrdiff_t x = 0; x < lay->n[2]; x++) row[x] = (float)((double)row[x] / vmax);
      }
  PetscFunctionReturn(0);
}
