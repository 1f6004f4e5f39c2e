/* The coarse-to-fine start (-decon_start coarse): the same method first solves the problem binned
   2 x 2 laterally (and 2 axially with -decon_start_coarse_axial), a quarter (an eighth) of the
   voxels, and the result, interpolated back, is the start of the full problem.

   Binning sums the data over blocks J of B = 4 (8) voxels (a partial block at an odd edge is
   scaled up to B voxels), so the binned data is again Poisson, with background B b:

     y_c(J) = Σ_{j∈J} y(j)

   If the object is constant on blocks, x(i) = x_c(I)/B for i ∈ I, the binned model is
   y_c = h_c * x_c + B b with, per binned axis and in offsets from the PSF's centre,

     h_c(D) = ½ [h(2D − 1) + 2 h(2D) + h(2D + 1)]

   (the PSF blurred by the two blocks' overlap, sampled every second voxel; it sums to 1 and
   keeps a centro-symmetric PSF centro-symmetric). The image box becomes ⌈m/2⌉ on a binned axis
   and the padding half the full problem's, so the binned problem keeps Bertero-Boccacci's box
   and weights. The binned solve runs -decon_start_coarse_it iterations (a solver of its own with
   the options prefix "coarse_": -coarse_decon_start, -coarse_decon_accel, ...; its FFT reads the
   full problem's -fft_* options) from the method's
   own start. The start of the full problem is its solution interpolated (bi- or trilinearly,
   block centres at fine coordinate 2I + ½), divided by B, floored at 10⁻³ x̄ where the data see
   the object, 0 elsewhere. Binning z moves planes between ranks: each rank receives the planes
   it needs from their owners, one message per plane.

   Why: the widefield OTF's support ends well inside the binned problem's Nyquist frequency
   (axially even more so), so the binned problem keeps most of what the data can tell and an
   iteration costs a quarter (an eighth); the low frequencies, which RL fixes first, are fixed
   there. This is multigrid's nested iteration (Brandt, Math. Comp. 31, 1977: solve on the coarse
   grid, interpolate, iterate on the fine one), as in the coarse-to-fine estimates of blind
   deconvolution (Fergus et al., SIGGRAPH 2006); docs/methods/acceleration.md measures it. */
#include "decon/decon_impl.h"
#include <math.h>

#define PD_COARSE_FLOOR 1e-3 /* of the flat value, as the other starts */

/* m voxels binned by f (1 or 2): ⌈m/f⌉ */
static inline ptrdiff_t Bin(ptrdiff_t m, int f) { return (m + f - 1) / f; }

/* The binned PSF (h_c above) on the binned axes (f[a] = 2), the others kept; its centre in the
   middle (pnc/2) so that the binned solver's PD_PSF_CENTER_MIDDLE finds it. */
static PetscErrorCode BinPSF(PdDecon d, const int f[3], ptrdiff_t pnc[3], float **psfc)
{
  const ptrdiff_t *pn = d->pn, *pc = d->pc;
  ptrdiff_t        half[3];
  float           *h;

  PetscFunctionBegin;
  /* a kept axis: the offsets as they are; a binned one: D reaches fine offsets 2D − 1 ... 2D + 1 */
  for (int a = 0; a < 3; a++) half[a] = f[a] == 1 ? PetscMax(pc[a], pn[a] - 1 - pc[a]) : PetscMax(pc[a] + 1, pn[a] - pc[a]) / 2;
  for (int a = 0; a < 3; a++) pnc[a] = 2 * half[a] + 1;
  PetscCall(PetscCalloc1(pnc[0] * pnc[1] * pnc[2], &h));
  for (ptrdiff_t k = 0; k < pn[0]; k++)
    for (ptrdiff_t j = 0; j < pn[1]; j++)
      for (ptrdiff_t i = 0; i < pn[2]; i++) {
        const ptrdiff_t o[3] = {k - pc[0], j - pc[1], i - pc[2]};
        /* fine offset o feeds D = o/2 with weight 1 when o is even, D = (o ± 1)/2 with ½ each when
           odd (the ½ of h_c's definition included); D = o on a kept axis */
        ptrdiff_t D[3][2];
        float     w[3][2];
        int       cnt[3];
        for (int a = 0; a < 3; a++) {
          cnt[a] = 1, w[a][0] = 1.0f;
          if (f[a] == 1) D[a][0] = o[a];
          else if (o[a] % 2 == 0) D[a][0] = o[a] / 2;
          else D[a][0] = (o[a] - 1) / 2, D[a][1] = (o[a] + 1) / 2, w[a][0] = w[a][1] = 0.5f, cnt[a] = 2;
        }
        for (int c = 0; c < cnt[0]; c++)
          for (int b = 0; b < cnt[1]; b++)
            for (int a = 0; a < cnt[2]; a++)
              h[((D[0][c] + half[0]) * pnc[1] + D[1][b] + half[1]) * pnc[2] + D[2][a] + half[2]] += w[0][c] * w[1][b] * w[2][a] * d->psf[(k * pn[1] + j) * pn[2] + i];
      }
  *psfc = h;
  PetscFunctionReturn(0);
}

/* buf <- the planes k of a volume split over z by zstart (ps floats a plane, this rank's from
   local) with need[rank * np + k], one ps-float slot each (slot[k], -1: not needed here); every
   rank knows what every rank needs, so each plane goes to each rank needing it as one message. */
static PetscErrorCode GatherPlanes(MPI_Comm comm, const ptrdiff_t *zstart, ptrdiff_t np, ptrdiff_t ps, const float *local, const PetscBool *need, float **buf, ptrdiff_t **slot)
{
  int          rank, size, nreq = 0;
  ptrdiff_t    nslot = 0;
  MPI_Request *req;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(np, slot));
  for (ptrdiff_t k = 0; k < np; k++) (*slot)[k] = need[rank * np + k] ? nslot++ : -1;
  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, nslot * ps), buf));
  PetscCall(PetscMalloc1((size_t)np * (size_t)(size + 1), &req));
  for (ptrdiff_t k = 0; k < np; k++) {
    int owner = 0;
    while (zstart[owner + 1] <= k) owner++;
    const float *src = owner == rank ? local + (k - zstart[rank]) * ps : NULL;
    if (need[rank * np + k]) {
      if (src) PetscCall(PetscArraycpy(*buf + (*slot)[k] * ps, src, ps));
      else PetscCallMPI(MPI_Irecv(*buf + (*slot)[k] * ps, (int)ps, MPI_FLOAT, owner, (int)k, comm, &req[nreq++]));
    }
    if (src)
      for (int r = 0; r < size; r++)
        if (r != rank && need[r * np + k]) PetscCallMPI(MPI_Isend(src, (int)ps, MPI_FLOAT, r, (int)k, comm, &req[nreq++]));
  }
  PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
  PetscCall(PetscFree(req));
  PetscFunctionReturn(0);
}

/* The binned data: sums over blocks (2 x 2 in each local plane, then pairs of planes gathered from
   their owners when z is binned), a partial block scaled to a whole one. */
static PetscErrorCode BinData(PdDecon d, PdDecon c, int fz)
{
  const PdLayout *fl = d->dlay, *cl = c->dlay;
  const ptrdiff_t nz = fl->nzl, m1 = d->m[1], m2 = d->m[2], c1 = c->m[1], c2 = c->m[2], cps = c1 * c2, np = d->m[0];
  float          *lat, *planes;
  ptrdiff_t      *slot;
  PetscBool      *need;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, nz * cps), &lat));
#pragma omp parallel for schedule(static)
  for (ptrdiff_t row = 0; row < nz * c1; row++) {
    const ptrdiff_t z = row / c1, bj = row % c1, j1 = PetscMin(2 * bj + 2, m1);
    float *restrict out = lat + (z * c1 + bj) * c2;
    for (ptrdiff_t bi = 0; bi < c2; bi++) {
      const ptrdiff_t i1 = PetscMin(2 * bi + 2, m2);
      double          s = 0;
      int             cnt = 0;
      for (ptrdiff_t j = 2 * bj; j < j1; j++)
        for (ptrdiff_t i = 2 * bi; i < i1; i++, cnt++) s += d->y[(z * m1 + j) * m2 + i];
      out[bi] = (float)(s * 4.0 / cnt);
    }
  }
  /* binned plane Z of rank r's box slab needs the fine planes fz Z ... fz Z + fz − 1 */
  PetscCall(PetscCalloc1((size_t)cl->size * (size_t)np, &need));
  for (int r = 0; r < cl->size; r++)
    for (ptrdiff_t k = fz * cl->zstart[r]; k < PetscMin(np, fz * cl->zstart[r + 1]); k++) need[r * np + k] = PETSC_TRUE;
  PetscCall(GatherPlanes(d->comm, fl->zstart, np, cps, lat, need, &planes, &slot));
  for (ptrdiff_t z = 0; z < cl->nzl; z++) {
    const ptrdiff_t k0 = fz * (cl->z0 + z), k1 = PetscMin(np, k0 + fz);
    float          *out = c->y + z * cps;
    for (ptrdiff_t i = 0; i < cps; i++) {
      double s = 0;
      for (ptrdiff_t k = k0; k < k1; k++) s += planes[slot[k] * cps + i];
      out[i] = (float)(s * fz / (double)(k1 - k0));
    }
  }
  PetscCall(PetscFree(need));
  PetscCall(PetscFree(slot));
  PetscCall(PdVolumeFree(&planes));
  PetscCall(PdVolumeFree(&lat));
  PetscFunctionReturn(0);
}

/* Linear interpolation from coarse axis nc to fine axis n (box m) binned by f: fine voxel v lies
   at signed position p (v, or v − n in the half of the padding that continues the box's other
   side), coarse coordinate u = (p + ½)/f − ½; lo/hi its neighbours (mod nc), t the weight of hi. */
static PetscErrorCode AxisMap(ptrdiff_t n, ptrdiff_t m, ptrdiff_t nc, int f, ptrdiff_t **lo, ptrdiff_t **hi, float **t)
{
  PetscFunctionBegin;
  PetscCall(PetscMalloc3(n, lo, n, hi, n, t));
  for (ptrdiff_t v = 0; v < n; v++) {
    const ptrdiff_t p = v < m + (n - m) / 2 ? v : v - n;
    const double    u = (p + 0.5) / f - 0.5, fl = floor(u);
    (*lo)[v] = (((ptrdiff_t)fl % nc) + nc) % nc;
    (*hi)[v] = (*lo)[v] + 1 < nc ? (*lo)[v] + 1 : 0;
    (*t)[v]  = (float)(u - fl);
  }
  PetscFunctionReturn(0);
}

/* x <- the coarse solution interpolated, / B, floored where the weights are positive. */
static PetscErrorCode Upsample(PdDecon d, PdDecon c, int fz)
{
  const PdLayout *l = d->lay, *cl = c->lay;
  const ptrdiff_t n1 = l->n[1], nrows = l->nzl * n1, nc0 = cl->n[0];
  const float     f = (float)(PD_COARSE_FLOOR * d->x0), scale = 1.0f / (4 * fz);
  ptrdiff_t      *zlo, *zhi, *ylo, *yhi, *xlo, *xhi, *slot;
  float          *zt, *yt, *xt, *planes;
  PetscBool      *need;

  PetscFunctionBegin;
  PetscCall(AxisMap(l->n[0], d->m[0], nc0, fz, &zlo, &zhi, &zt));
  PetscCall(AxisMap(n1, d->m[1], cl->n[1], 2, &ylo, &yhi, &yt));
  PetscCall(AxisMap(l->n[2], d->m[2], cl->n[2], 2, &xlo, &xhi, &xt));
  /* the coarse planes each rank's fine planes lie between */
  PetscCall(PetscCalloc1((size_t)l->size * (size_t)nc0, &need));
  for (int r = 0; r < l->size; r++)
    for (ptrdiff_t v = l->zstart[r]; v < l->zstart[r + 1]; v++) need[r * nc0 + zlo[v]] = need[r * nc0 + zhi[v]] = PETSC_TRUE;
  PetscCall(GatherPlanes(d->comm, cl->zstart, nc0, cl->ps, c->x, need, &planes, &slot));
#pragma omp parallel for schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t z = row / n1, yy = row % n1, g = l->z0 + z;
    const float *restrict w = PdDeconWeightsRow(d, z, yy);
    const float *restrict p0 = planes + slot[zlo[g]] * cl->ps, *restrict p1 = planes + slot[zhi[g]] * cl->ps;
    const float *restrict a0 = p0 + ylo[yy] * cl->rs, *restrict b0 = p0 + yhi[yy] * cl->rs, *restrict a1 = p1 + ylo[yy] * cl->rs, *restrict b1 = p1 + yhi[yy] * cl->rs;
    const float tz = zt[g], ty = yt[yy];
    float *restrict x = d->x + z * l->ps + yy * l->rs;
    for (ptrdiff_t i = 0; i < l->rs; i++) {
      if (i >= l->n[2] || !(w[i] > 0)) {
        x[i] = 0.0f;
        continue;
      }
      const ptrdiff_t lo = xlo[i], hi = xhi[i];
      const float     tx = xt[i];
#define PD_LERP(r) ((r)[lo] + tx * ((r)[hi] - (r)[lo]))
      const float s0 = PD_LERP(a0) + ty * (PD_LERP(b0) - PD_LERP(a0)), s1 = PD_LERP(a1) + ty * (PD_LERP(b1) - PD_LERP(a1));
#undef PD_LERP
      x[i] = PetscMax(scale * (s0 + tz * (s1 - s0)), f);
    }
  }
  PetscCall(PetscFree(need));
  PetscCall(PetscFree(slot));
  PetscCall(PdVolumeFree(&planes));
  PetscCall(PetscFree3(zlo, zhi, zt));
  PetscCall(PetscFree3(ylo, yhi, yt));
  PetscCall(PetscFree3(xlo, xhi, xt));
  PetscFunctionReturn(0);
}

/* The binned problem's solver, its options read (prefix "coarse_" after d's). */
static PetscErrorCode CoarseCreate(PdDecon d, PdDecon *cc)
{
  PdDecon     c;
  char        prefix[256];
  const char *method;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(d->comm, &c));
  PetscCall(PetscSNPrintf(prefix, sizeof(prefix), "%scoarse_", d->prefix ? d->prefix : ""));
  PetscCall(PdDeconSetOptionsPrefix(c, prefix));
  /* its transforms as the full problem's (-fft_planner, -fft_wisdom, ...): the same plans in
     every run, so that results repeat and a restart continues exactly */
  PetscCall(PdFFTConvSetOptionsPrefix(c->conv, d->prefix));
  PetscCall(PdDeconGetMethod(d, &method));
  PetscCall(PdDeconSetMethod(c, method));
  PetscCall(PdDeconSetTolerances(c, d->start_coarse_it, 0));
  PetscCall(PdDeconSetBoundary(c, d->boundary));
  c->weight_threshold = d->weight_threshold;
  c->start_k          = d->start_k;
  /* a method that starts coarse by default starts its binned solve from the Wiener filter: one
     level unless -coarse_decon_start coarse asks for another */
  if (c->ops->default_start == PD_START_COARSE) PetscCall(PdDeconSetStart(c, PD_START_WIENER));
  PetscCall(PdDeconSetFromOptions(c));
  c->nested = PETSC_TRUE; /* a stop signal ends the start early; d's loop saves the state */
  *cc = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode CoarseSetFromOptions(PdDecon d)
{
  PdDecon c;

  PetscFunctionBegin;
  PetscCall(CoarseCreate(d, &c)); /* its options are read (and checked) with d's */
  PetscCall(PdDeconDestroy(&c));
  PetscFunctionReturn(0);
}

static PetscErrorCode CoarseEstimate(PdDecon d, PetscBool *done)
{
  const int f[3] = {d->start_coarse_axial ? 2 : 1, 2, 2};
  PdDecon   c;
  ptrdiff_t mc[3], pad[3], pnc[3];
  float    *psfc;

  PetscFunctionBegin;
  /* the binned PSF, centred in its middle; the padding half the full problem's on binned axes.
     Where the PSF is released after the first start, the binned one stays for a batch's next data
     sets (a quarter or an eighth of the PSF). */
  if (d->psf) PetscCall(BinPSF(d, f, pnc, &psfc));
  else {
    PetscCheck(d->psfc, d->comm, PETSC_ERR_ORDER, "the PSF was released before the coarse start binned it");
    for (int a = 0; a < 3; a++) pnc[a] = d->psfc_n[a];
    PetscCall(PetscMalloc1(pnc[0] * pnc[1] * pnc[2], &psfc));
    PetscCall(PetscArraycpy(psfc, d->psfc, pnc[0] * pnc[1] * pnc[2]));
  }
  if (d->release_psf && !d->psfc) {
    PetscCall(PetscMalloc1(pnc[0] * pnc[1] * pnc[2], &d->psfc));
    PetscCall(PetscArraycpy(d->psfc, psfc, pnc[0] * pnc[1] * pnc[2]));
    for (int a = 0; a < 3; a++) d->psfc_n[a] = pnc[a];
  }
  *done = PETSC_TRUE;
  for (int a = 0; a < 3; a++) {
    mc[a]  = Bin(d->m[a], f[a]);
    pad[a] = Bin(d->lay->n[a] - d->m[a], f[a]);
    /* a binned PSF wider than the binned working volume (periodic, or a padding asked for that is
       too small): no binned problem to solve; the caller starts otherwise */
    if (pnc[a] > (d->boundary == PD_BOUNDARY_PERIODIC ? mc[a] : PdFFTGoodSize(mc[a] + pad[a]))) *done = PETSC_FALSE;
  }
  if (!*done) {
    PetscCall(PetscFree(psfc));
    PetscFunctionReturn(0);
  }
  /* made for each start and destroyed after it: its volumes, a quarter (an eighth) of the full
     problem's, exist only before the method's own state is allocated */
  PetscCall(CoarseCreate(d, &c));
  PetscCall(PdDeconSetBackground(c, 4 * f[0] * d->bg));
  PetscCall(PdDeconSetPSF(c, pnc, psfc, d->psfname));
  PetscCall(PetscFree(psfc));
  c->center_mode = PD_PSF_CENTER_MIDDLE;
  for (int a = 0; a < 3; a++) c->pad[a] = pad[a];
  PetscCall(PdDeconSetImageSize(c, mc, d->dataname));
  PetscCall(PdDeconSetUp(c));
  PetscCall(BinData(d, c, f[0]));
  PetscCall(PdDeconSolve(c));
  PetscCall(Upsample(d, c, f[0]));
  PetscCall(PdDeconDestroy(&c));
  PetscFunctionReturn(0);
}

const PdNestedStartOps PdStartCoarse = {.setfromoptions = CoarseSetFromOptions, .estimate = CoarseEstimate};
