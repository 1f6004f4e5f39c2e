/* Tiled, blended inference of a 3-D network shared among the ranks (nn_tiled.h). */
#include <pdecon/learn/nn_tiled.h>
#include <pdecon/core/sys.h>

static PetscLogEvent EV_TILES;

/* Mirror index of i in [0, n): reflection about 0 and n − 1, repeated. */
static inline ptrdiff_t Reflect(ptrdiff_t i, ptrdiff_t n)
{
  const ptrdiff_t period = 2 * (n - 1);
  if (n == 1) return 0;
  i = ((i % period) + period) % period;
  return i < n ? i : period - i;
}

static inline double Weight(PetscInt u, PetscInt T, PetscInt m, PetscInt ramp)
{
  return (double)PetscMax(0, PetscMin(PetscMin(u - m + 1, T - m - u), ramp));
}

/* Sums over the ranks in pieces that fit an int count. */
static PetscErrorCode AllreduceLarge(MPI_Comm comm, double *v, ptrdiff_t n)
{
  const ptrdiff_t chunk = 1 << 28;

  PetscFunctionBegin;
  for (ptrdiff_t o = 0; o < n; o += chunk) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, v + o, (int)PetscMin(chunk, n - o), MPI_DOUBLE, MPI_SUM, comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNApplyTiled(PdNN net, MPI_Comm comm, const ptrdiff_t n[3], const float *in, PetscInt T, PetscInt V, float *out)
{
  const PetscInt  S = T - V, m = V / 4, ramp = V - 2 * m;
  const ptrdiff_t N = n[0] * n[1] * n[2];
  ptrdiff_t       nt[3];
  PetscInt        ntot;
  PdNNWork        work;
  float          *tile;
  double         *num, *den;
  int             rank, size;

  PetscFunctionBegin;
  if (!EV_TILES) PetscCall(PetscLogEventRegister("NNTiles", PD_CLASSID, &EV_TILES));
  PetscCheck(T > 0 && V >= 0 && V < T && ramp > 0, comm, PD_ERR_INPUT, "-restore_tile %" PetscInt_FMT " / -restore_overlap %" PetscInt_FMT ": the overlap must be at least 2 and smaller than the tile", T, V);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  for (int a = 0; a < 3; a++) nt[a] = (n[a] + S - 1) / S;
  ntot = (PetscInt)(nt[0] * nt[1] * nt[2]);
  PetscCall(PetscMalloc1((size_t)T * T * T, &tile));
  PetscCall(PetscCalloc2(N, &num, N, &den));
  PetscCall(PdNNWorkCreate(net, &work));
  PetscCall(PdNNWorkSetTraining(work, PETSC_FALSE));
  PetscCall(PetscLogEventBegin(EV_TILES, 0, 0, 0, 0));
  for (PetscInt t = rank; t < ntot; t += size) {
    const ptrdiff_t o[3] = {(t / (nt[1] * nt[2])) * S - V / 2, ((t / nt[2]) % nt[1]) * S - V / 2, (t % nt[2]) * S - V / 2};
    PdTensor        x = PdTensorView(1, 1, T, T, T, tile), y;

    for (PetscInt z = 0; z < T; z++)
      for (PetscInt j = 0; j < T; j++)
        for (PetscInt i = 0; i < T; i++) tile[(z * T + j) * T + i] = in[(Reflect(o[0] + z, n[0]) * n[1] + Reflect(o[1] + j, n[1])) * n[2] + Reflect(o[2] + i, n[2])];
    PetscCall(PdNNForward(net, work, &x, &y));
    PetscCheck(y.c == 1 && y.d == T && y.h == T && y.w == T, comm, PETSC_ERR_ARG_SIZ, "tiled inference needs a network whose output has its input's size");
    for (PetscInt z = 0; z < T; z++) {
      const double wz = Weight(z, T, m, ramp);
      if (wz == 0 || o[0] + z < 0 || o[0] + z >= n[0]) continue;
      for (PetscInt j = 0; j < T; j++) {
        const double wy = wz * Weight(j, T, m, ramp);
        if (wy == 0 || o[1] + j < 0 || o[1] + j >= n[1]) continue;
        for (PetscInt i = 0; i < T; i++) {
          const double w = wy * Weight(i, T, m, ramp);
          if (w == 0 || o[2] + i < 0 || o[2] + i >= n[2]) continue;
          const ptrdiff_t q = ((o[0] + z) * n[1] + o[1] + j) * n[2] + o[2] + i;
          num[q] += w * y.v[(z * T + j) * T + i];
          den[q] += w;
        }
      }
    }
  }
  PetscCall(PetscLogEventEnd(EV_TILES, 0, 0, 0, 0));
  PetscCall(AllreduceLarge(comm, num, N));
  PetscCall(AllreduceLarge(comm, den, N));
  for (ptrdiff_t q = 0; q < N; q++) out[q] = (float)(num[q] / den[q]);
  PetscCall(PdNNWorkDestroy(&work));
  PetscCall(PetscFree2(num, den));
  PetscCall(PetscFree(tile));
  PetscFunctionReturn(0);
}

static PetscInt RoundUp(PetscInt v, PetscInt q) { return (v + q - 1) / q * q; }

PetscErrorCode PdNNTiledPlan(PdNN net, const ptrdiff_t n[3], PetscInt *tile, PetscInt *overlap, PetscInt *radius)
{
  PetscInt r[3], q, R, V, whole;

  PetscFunctionBegin;
  PetscCall(PdNNGetReceptiveField(net, r, &q));
  R        = PetscMax(r[0], PetscMax(r[1], r[2]));
  V        = RoundUp(PetscMax(4 * R, 2), q);
  whole    = RoundUp((PetscInt)PetscMax(n[0], PetscMax(n[1], n[2])) + V, q);
  *tile    = PetscMax(RoundUp(*tile, q), PetscMin(RoundUp(V + V / 2, q), whole));
  *overlap = V;
  if (radius) *radius = R;
  PetscFunctionReturn(0);
}
