/* Restoration of a distributed stack with a trained network (equations in cnn_restore.h).

   Distributions: a volume of size n is split along one axis a into PdBlockRange blocks, rank r
   holding all of the other two axes, compact z,y,x with axis a cut to its block (a = 0: the
   usual z-slabs). Redistribute moves a volume from blocks along one axis to blocks along another
   with one MPI_Alltoallv: the part sent from rank r to rank p is the box [r's block along the
   source axis] × [p's block along the target axis], packed in z,y,x order on both sides. */
#include <pdecon/learn/cnn_restore.h>
#include <pdecon/learn/cnn_data.h>
#include <math.h>
#include <limits.h>

const char *const PdCNNCombines[] = {"mean", "geomean"};

/* Local extents of a volume of size n split along axis a. */
static void Extents(const ptrdiff_t n[3], int a, int size, int r, ptrdiff_t start[3], ptrdiff_t ext[3])
{
  for (int d = 0; d < 3; d++) {
    start[d] = 0;
    ext[d]   = n[d];
  }
  PdBlockRange(n[a], size, r, &start[a], &ext[a]);
}

/* Copies the box [lo, lo + cnt) of a local array with extents ext to or from a packed buffer. */
static void BoxCopy(float *a, const ptrdiff_t ext[3], const ptrdiff_t lo[3], const ptrdiff_t cnt[3], float *buf, PetscBool pack)
{
  ptrdiff_t k = 0;
  for (ptrdiff_t z = 0; z < cnt[0]; z++)
    for (ptrdiff_t y = 0; y < cnt[1]; y++) {
      float *row = a + ((lo[0] + z) * ext[1] + lo[1] + y) * ext[2] + lo[2];
      if (pack) for (ptrdiff_t x = 0; x < cnt[2]; x++) buf[k++] = row[x];
      else for (ptrdiff_t x = 0; x < cnt[2]; x++) row[x] = buf[k++];
    }
}

/* The box that rank `from` (split along sa) sends to rank `to` (split along ta): lo in the sender's
   local coordinates (sender) or the receiver's, and its counts. */
static void Box(const ptrdiff_t n[3], int sa, int ta, int size, int from, int to, PetscBool sender, ptrdiff_t lo[3], ptrdiff_t cnt[3])
{
  ptrdiff_t fs[3], fe[3], ts[3], te[3];
  Extents(n, sa, size, from, fs, fe);
  Extents(n, ta, size, to, ts, te);
  for (int d = 0; d < 3; d++) {
    const ptrdiff_t s = PetscMax(fs[d], ts[d]), e = PetscMin(fs[d] + fe[d], ts[d] + te[d]);
    cnt[d]            = PetscMax(0, e - s);
    lo[d]             = s - (sender ? fs[d] : ts[d]);
  }
}

static PetscErrorCode Redistribute(MPI_Comm comm, const ptrdiff_t n[3], int sa, const float *src, int ta, float *dst)
{
  int       rank, size, *sc, *sd, *rc, *rd;
  ptrdiff_t s0[3], se[3], t0[3], te[3], lo[3], cnt[3], ns = 0, nr = 0;
  float    *sbuf, *rbuf;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  Extents(n, sa, size, rank, s0, se);
  Extents(n, ta, size, rank, t0, te);
  PetscCall(PetscMalloc4(size, &sc, size, &sd, size, &rc, size, &rd));
  for (int p = 0; p < size; p++) {
    Box(n, sa, ta, size, rank, p, PETSC_TRUE, lo, cnt);
    PetscCheck(ns + cnt[0] * cnt[1] * cnt[2] < INT_MAX, comm, PETSC_ERR_SUP, "restore: a rank's share exceeds 2^31 values; use more ranks");
    sd[p] = (int)ns;
    sc[p] = (int)(cnt[0] * cnt[1] * cnt[2]);
    ns += sc[p];
    Box(n, sa, ta, size, p, rank, PETSC_FALSE, lo, cnt);
    rd[p] = (int)nr;
    rc[p] = (int)(cnt[0] * cnt[1] * cnt[2]);
    nr += rc[p];
  }
  PetscCall(PetscMalloc2(PetscMax(1, ns), &sbuf, PetscMax(1, nr), &rbuf));
  for (int p = 0; p < size; p++) {
    Box(n, sa, ta, size, rank, p, PETSC_TRUE, lo, cnt);
    BoxCopy((float *)src, se, lo, cnt, sbuf + sd[p], PETSC_TRUE);
  }
  PetscCallMPI(MPI_Alltoallv(sbuf, sc, sd, MPI_FLOAT, rbuf, rc, rd, MPI_FLOAT, comm));
  for (int p = 0; p < size; p++) {
    Box(n, sa, ta, size, p, rank, PETSC_FALSE, lo, cnt);
    BoxCopy(dst, te, lo, cnt, rbuf + rd[p], PETSC_FALSE);
  }
  PetscCall(PetscFree2(sbuf, rbuf));
  PetscCall(PetscFree4(sc, sd, rc, rd));
  PetscFunctionReturn(0);
}

/* The normalisation map of the whole volume: every voxel whose global index is a multiple of
   the stride, gathered in index order on every rank. */
static PetscErrorCode Normalization(const PdLayout *lay, const float *v, double *lo, double *hi)
{
  const ptrdiff_t N = PdLayoutGlobalCount(lay), stride = PdCNNPercentileStride(N), ns = lay->n[1] * lay->n[2];
  const ptrdiff_t g0 = lay->z0 * ns, g1 = g0 + lay->nzl * ns, first = (g0 + stride - 1) / stride;
  const double    q[2] = {PD_CNN_NORM_LO, PD_CNN_NORM_HI};
  int             mine = (int)(g1 > first * stride ? (g1 - 1) / stride - first + 1 : 0), *counts, *displs, total = 0;
  float          *s, *all;
  double          pc[2];

  PetscFunctionBegin;
  PetscCall(PetscMalloc3(PetscMax(1, mine), &s, lay->size, &counts, lay->size, &displs));
  for (int k = 0; k < mine; k++) s[k] = v[(first + k) * stride - g0];
  PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, lay->comm));
  for (int r = 0; r < lay->size; r++) {
    displs[r] = total;
    total += counts[r];
  }
  PetscCall(PetscMalloc1(total, &all));
  PetscCallMPI(MPI_Allgatherv(s, mine, MPI_FLOAT, all, counts, displs, MPI_FLOAT, lay->comm));
  PetscCall(PdCNNPercentiles(total, all, 2, q, pc));
  PetscCheck(pc[1] > pc[0], lay->comm, PD_ERR_INPUT, "restore: the input has no contrast (its percentiles %g and %g are both %g)", PD_CNN_NORM_LO, PD_CNN_NORM_HI, pc[0]);
  *lo = pc[0];
  *hi = pc[1];
  PetscCall(PetscFree(all));
  PetscCall(PetscFree3(s, counts, displs));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNRestoreSize(PdCNNKind kind, const ptrdiff_t n[3], double sigma, ptrdiff_t m[3])
{
  PetscFunctionBegin;
  PetscCheck(sigma >= 1 && isfinite(sigma), PETSC_COMM_SELF, PD_ERR_INPUT, "the anisotropy factor must be >= 1 (got %g)", sigma);
  for (int d = 0; d < 3; d++) m[d] = n[d];
  if (kind != PD_CNN_SRCNN) m[0] = (ptrdiff_t)floor((double)(n[0] - 1) * sigma) + 1;
  PetscFunctionReturn(0);
}

/* Upsamples (nz, ny, nx) along z to (Z, ny, nx): plane z' interpolates planes ⌊z'/σ⌋ and the next. */
static void UpsampleZ(const ptrdiff_t n[3], const float *v, double sigma, ptrdiff_t Z, float *u)
{
  const ptrdiff_t ns = n[1] * n[2];
  for (ptrdiff_t z = 0; z < Z; z++) {
    const double    t = (double)z / sigma;
    const ptrdiff_t k = PetscMin(n[0] - 1, (ptrdiff_t)floor(t));
    const float     f = k + 1 < n[0] ? (float)(t - (double)k) : 0.0f;
    const float    *a = v + k * ns, *b = v + PetscMin(n[0] - 1, k + 1) * ns;
    for (ptrdiff_t i = 0; i < ns; i++) u[z * ns + i] = (1 - f) * a[i] + f * b[i];
  }
}

/* One Isonet pass on a volume split along axis a (1: y, 2: x) with local extents e (z, y, x):
   for each index j of that axis, the image of the other lateral axis (rows) by z (columns). */
static PetscErrorCode IsonetPass(PdCNNKind kind, PdNN net, PdNNWork work, int a, const ptrdiff_t e[3], const float *v, float *u)
{
  const ptrdiff_t Z = e[0], R = a == 1 ? e[2] : e[1], nj = e[a];
  float          *img, *res;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(R * Z, &img, R * Z, &res));
  for (ptrdiff_t j = 0; j < nj; j++) {
    for (ptrdiff_t r = 0; r < R; r++)
      for (ptrdiff_t z = 0; z < Z; z++) img[r * Z + z] = v[a == 1 ? (z * e[1] + j) * e[2] + r : (z * e[1] + r) * e[2] + j];
    PetscCall(PdCNNApply2D(kind, net, work, (PetscInt)R, (PetscInt)Z, img, res));
    for (ptrdiff_t r = 0; r < R; r++)
      for (ptrdiff_t z = 0; z < Z; z++) u[a == 1 ? (z * e[1] + j) * e[2] + r : (z * e[1] + r) * e[2] + j] = res[r * Z + z];
  }
  PetscCall(PetscFree2(img, res));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNRestore(PdCNNKind kind, PdNN net, const PdLayout *lay, const float *in, double sigma, PdCNNCombine combine, const PdLayout *olay, float *out)
{
  const ptrdiff_t *n = lay->n, ns = n[1] * n[2];
  ptrdiff_t        m[3];
  double           lo = 0, hi = 1;
  float            s, *v;
  PdNNWork         work;

  PetscFunctionBegin;
  PetscCall(PdCNNRestoreSize(kind, n, sigma, m));
  PetscCheck(lay->rs == n[2] && lay->ps == ns && olay->rs == m[2] && olay->ps == m[1] * m[2], lay->comm, PETSC_ERR_ARG_WRONG, "restore: compact slabs expected");
  PetscCheck(olay->n[0] == m[0] && olay->n[1] == m[1] && olay->n[2] == m[2], lay->comm, PETSC_ERR_ARG_SIZ, "restore: the output layout is not %td x %td x %td", m[0], m[1], m[2]);
  PetscCall(Normalization(lay, in, &lo, &hi));
  s = (float)(1.0 / (hi - lo));
  PetscCall(PetscMalloc1(PetscMax(1, lay->nzl * ns), &v));
  for (ptrdiff_t i = 0; i < lay->nzl * ns; i++) v[i] = (in[i] - (float)lo) * s;
  PetscCall(PdNNWorkCreate(net, &work));
  PetscCall(PdNNWorkSetTraining(work, PETSC_FALSE));
  if (kind == PD_CNN_SRCNN) {
    for (ptrdiff_t z = 0; z < lay->nzl; z++) PetscCall(PdCNNApply2D(kind, net, work, (PetscInt)n[1], (PetscInt)n[2], v + z * ns, out + z * ns));
  } else {
    const ptrdiff_t mo = olay->nzl * m[1] * m[2];
    float          *u[2], *r[2];
    PetscCall(PetscMalloc2(PetscMax(1, mo), &r[0], PetscMax(1, mo), &r[1]));
    for (int a = 1; a <= 2; a++) {
      ptrdiff_t st[3], e[3], E[3];
      float    *va;
      Extents(n, a, lay->size, lay->rank, st, e);
      E[0] = m[0];
      E[1] = e[1];
      E[2] = e[2];
      PetscCall(PetscMalloc1(PetscMax(1, e[0] * e[1] * e[2]), &va));
      PetscCall(PetscMalloc1(PetscMax(1, E[0] * E[1] * E[2]), &u[0]));
      PetscCall(PetscMalloc1(PetscMax(1, E[0] * E[1] * E[2]), &u[1]));
      PetscCall(Redistribute(lay->comm, n, 0, v, a, va));
      UpsampleZ(e, va, sigma, m[0], u[0]);
      PetscCall(IsonetPass(kind, net, work, a, E, u[0], u[1]));
      PetscCall(Redistribute(lay->comm, m, a, u[1], 0, r[a - 1]));
      PetscCall(PetscFree(va));
      PetscCall(PetscFree(u[0]));
      PetscCall(PetscFree(u[1]));
    }
    for (ptrdiff_t i = 0; i < mo; i++) {
      const float a = r[1][i], b = r[0][i]; /* pass A (x-slabs: yz-slices), pass B (y-slabs: xz-slices) */
      out[i] = combine == PD_CNN_COMBINE_MEAN ? 0.5f * (a + b) : sqrtf(PetscMax(a, 0.0f) * PetscMax(b, 0.0f));
    }
    PetscCall(PetscFree2(r[0], r[1]));
  }
  {
    const ptrdiff_t mo = olay->nzl * m[1] * m[2];
    for (ptrdiff_t i = 0; i < mo; i++) out[i] = out[i] / s + (float)lo;
  }
  PetscCall(PdNNWorkDestroy(&work));
  PetscCall(PetscFree(v));
  PetscFunctionReturn(0);
}
