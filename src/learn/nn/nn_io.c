/* Model files of the CNN engine (HDF5). Rank 0 reads and writes, the others receive what it
   read; a failure on rank 0 is raised on every rank with the same message, so a bad file gives
   one error line and no rank is left waiting. A file is written under a temporary name and
   renamed when complete.

   Layout:  /                attributes model_kind (string), dims, meta_<name> (doubles),
                             layer_names (the names in order), adam_t (with Adam state)
            /<layer name>/   attributes kind (string), shape (cin, cout, k, stride, pad, bias,
                             source, skip), slope; datasets weight ([cout][cin][k]^dims, or
                             [cin][cout][2]^dims for a transposed conv) and bias, float32;
                             adam_m, adam_v or sgd_V (weights then biases, double) */
#include "learn/nn/nn_impl.h"
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SHAPE_LEN 8
#define MSG_LEN   1024

typedef struct {
  int  code;
  char msg[MSG_LEN];
} Status;

static void Fail(Status *st, int code, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(3, 4);
static void Fail(Status *st, int code, const char *fmt, ...)
{
  va_list ap;

  if (st->code) return; /* the first failure wins */
  st->code = code;
  va_start(ap, fmt);
  vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
  va_end(ap);
}

/* Rank 0's status on every rank, raised when it is a failure. */
static PetscErrorCode Agree(MPI_Comm comm, Status *st)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Bcast(st, (int)sizeof(*st), MPI_BYTE, 0, comm));
  PetscCheck(!st->code, comm, st->code, "%s", st->msg);
  PetscFunctionReturn(0);
}

static void LayerShape(const PdNNLayer *L, long long s[SHAPE_LEN])
{
  s[0] = L->cin;
  s[1] = L->cout;
  s[2] = L->k;
  s[3] = L->stride;
  s[4] = L->pad;
  s[5] = L->bias;
  s[6] = L->src;
  s[7] = L->skip;
}

static PetscErrorCode CheckOptimizers(PdNN net, PdAdam adam, PdSGD sgd)
{
  PetscInt na = net->np, ns = net->np;

  PetscFunctionBegin;
  PetscCheck(net->setup, PETSC_COMM_SELF, PETSC_ERR_ORDER, "call PdNNSetUp first");
  if (adam) PetscCall(PdAdamGetState(adam, &na, NULL, NULL, NULL));
  if (sgd) PetscCall(PdSGDGetState(sgd, &ns, NULL));
  PetscCheck(na == net->np && ns == net->np, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "optimiser state of another size than the network");
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- writing */

static herr_t AttrWrite(hid_t obj, const char *name, hid_t type, hsize_t n, const void *v)
{
  hid_t  sp = H5Screate_simple(1, &n, NULL), a = sp < 0 ? -1 : H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, type, v);
  if (a >= 0) (void)H5Aclose(a);
  if (sp >= 0) (void)H5Sclose(sp);
  return e;
}

static herr_t AttrWriteString(hid_t obj, const char *name, const char *s)
{
  hid_t  t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
  herr_t e = -1;
  if (t >= 0 && H5Tset_size(t, strlen(s) + 1) >= 0 && sp >= 0 && (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0) e = H5Awrite(a, t, s);
  if (a >= 0) (void)H5Aclose(a);
  if (sp >= 0) (void)H5Sclose(sp);
  if (t >= 0) (void)H5Tclose(t);
  return e;
}

static herr_t DsetWrite(hid_t obj, const char *name, hid_t type, int rank, const hsize_t *dims, const void *v)
{
  hid_t  sp = H5Screate_simple(rank, dims, NULL), d = sp < 0 ? -1 : H5Dcreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = d < 0 ? -1 : H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  if (d >= 0) (void)H5Dclose(d);
  if (sp >= 0) (void)H5Sclose(sp);
  return e;
}

/* Everything of the network into the open file f; false on an HDF5 failure. */
static PetscBool WriteAll(PdNN net, hid_t f, const char *kind, PdAdam adam, PdSGD sgd)
{
  long long dims = net->dims;
  char     *names;
  herr_t    e = 0;
  hid_t     st = H5Tcopy(H5T_C_S1);
  hsize_t   nl = (hsize_t)net->nl;
  PetscInt  t = 0;
  double   *m = NULL, *v = NULL, *V = NULL;

  if (adam) (void)PdAdamGetState(adam, NULL, &t, &m, &v);
  if (sgd) (void)PdSGDGetState(sgd, NULL, &V);
  e |= AttrWriteString(f, "model_kind", kind);
  e |= AttrWrite(f, "dims", H5T_NATIVE_LLONG, 1, &dims);
  if (adam) {
    long long tt = t;
    e |= AttrWrite(f, "adam_t", H5T_NATIVE_LLONG, 1, &tt);
  }
  for (PetscInt i = 0; i < net->nmeta; i++) {
    char an[80];
    snprintf(an, sizeof(an), "meta_%s", net->meta[i].name);
    e |= AttrWrite(f, an, H5T_NATIVE_DOUBLE, (hsize_t)PetscMax(1, net->meta[i].n), net->meta[i].v);
  }
  names = calloc((size_t)net->nl, 64);
  if (!names || st < 0) e = -1;
  else {
    for (PetscInt l = 0; l < net->nl; l++) memcpy(names + 64 * l, net->L[l].name, strlen(net->L[l].name));
    e |= H5Tset_size(st, 64);
    e |= AttrWrite(f, "layer_names", st, nl, names);
  }
  free(names);
  if (st >= 0) (void)H5Tclose(st);
  for (PetscInt l = 0; l < net->nl && e >= 0; l++) {
    const PdNNLayer *L = &net->L[l];
    long long        s[SHAPE_LEN];
    hid_t            g = H5Gcreate2(f, L->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t          wd[5], n = (hsize_t)(L->nw + L->nb);

    if (g < 0) return PETSC_FALSE;
    LayerShape(L, s);
    e |= AttrWriteString(g, "kind", PdNNLayerKinds[L->kind]);
    e |= AttrWrite(g, "shape", H5T_NATIVE_LLONG, SHAPE_LEN, s);
    e |= AttrWrite(g, "slope", H5T_NATIVE_DOUBLE, 1, &L->slope);
    if (L->nw) {
      wd[0] = (hsize_t)(L->kind == PD_NN_CONV ? L->cout : L->cin);
      wd[1] = (hsize_t)(L->kind == PD_NN_CONV ? L->cin : L->cout);
      for (int j = 0; j < net->dims; j++) wd[2 + j] = (hsize_t)L->k;
      e |= DsetWrite(g, "weight", H5T_NATIVE_FLOAT, 2 + (int)net->dims, wd, net->theta + L->woff);
    }
    if (L->nb) {
      hsize_t nb = (hsize_t)L->nb;
      e |= DsetWrite(g, "bias", H5T_NATIVE_FLOAT, 1, &nb, net->theta + L->boff);
    }
    if (n && adam) {
      e |= DsetWrite(g, "adam_m", H5T_NATIVE_DOUBLE, 1, &n, m + L->woff);
      e |= DsetWrite(g, "adam_v", H5T_NATIVE_DOUBLE, 1, &n, v + L->woff);
    }
    if (n && sgd) e |= DsetWrite(g, "sgd_V", H5T_NATIVE_DOUBLE, 1, &n, V + L->woff);
    (void)H5Gclose(g);
  }
  return (PetscBool)(e >= 0);
}

PetscErrorCode PdNNSave(PdNN net, MPI_Comm comm, const char path[], const char kind[], PdAdam adam, PdSGD sgd)
{
  Status st = {0, ""};
  int    rank;

  PetscFunctionBegin;
  PetscCall(CheckOptimizers(net, adam, sgd));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    char  tmp[PETSC_MAX_PATH_LEN + 32];
    hid_t f, fapl = H5Pcreate(H5P_FILE_ACCESS);

    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    /* the 1.8 format stores attributes over 64 KiB (a 31³ kernel in the metadata) densely */
    (void)H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    (void)H5Pclose(fapl);
    if (f < 0) Fail(&st, PD_ERR_FILE, "%s: cannot create the model file", path);
    else {
      const PetscBool ok = WriteAll(net, f, kind, adam, sgd);
      if (H5Fclose(f) < 0 || !ok) Fail(&st, PD_ERR_FILE, "%s: cannot write the model file", path);
      if (!st.code && rename(tmp, path)) Fail(&st, PD_ERR_FILE, "%s: cannot rename the temporary file to it", path);
      if (st.code) (void)unlink(tmp);
    }
  }
  PetscCall(Agree(comm, &st));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- reading */

/* Reads exactly n values of an attribute; false if absent or of another size. */
static PetscBool AttrRead(hid_t obj, const char *name, hid_t type, hssize_t n, void *v)
{
  hid_t     a = H5Aexists(obj, name) > 0 ? H5Aopen(obj, name, H5P_DEFAULT) : -1, sp = a < 0 ? -1 : H5Aget_space(a);
  PetscBool ok = (PetscBool)(sp >= 0 && H5Sget_simple_extent_npoints(sp) == n && H5Aread(a, type, v) >= 0);
  if (sp >= 0) (void)H5Sclose(sp);
  if (a >= 0) (void)H5Aclose(a);
  return ok;
}

static PetscBool AttrReadString(hid_t obj, const char *name, char *s, size_t len)
{
  hid_t     a = H5Aexists(obj, name) > 0 ? H5Aopen(obj, name, H5P_DEFAULT) : -1, ft = a < 0 ? -1 : H5Aget_type(a), t = H5Tcopy(H5T_C_S1);
  PetscBool ok = PETSC_FALSE;
  char     *buf;

  if (ft >= 0 && H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft) && t >= 0) {
    const size_t n = H5Tget_size(ft);
    if ((buf = calloc(n + 1, 1)) && H5Tset_size(t, n) >= 0 && H5Aread(a, t, buf) >= 0) {
      snprintf(s, len, "%s", buf);
      ok = PETSC_TRUE;
    }
    free(buf);
  }
  if (t >= 0) (void)H5Tclose(t);
  if (ft >= 0) (void)H5Tclose(ft);
  if (a >= 0) (void)H5Aclose(a);
  return ok;
}

/* Reads dataset name of group g (exactly n values) as type; fails st naming the layer. */
static void DsetRead(hid_t g, const char *path, const char *layer, const char *name, hid_t type, hssize_t n, void *v, Status *st)
{
  hid_t d = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : -1, sp = d < 0 ? -1 : H5Dget_space(d);

  if (st->code) goto done;
  if (d < 0) Fail(st, PD_ERR_INPUT, "%s: layer %s has no %s", path, layer, name);
  else if (sp < 0 || H5Sget_simple_extent_npoints(sp) != n) Fail(st, PD_ERR_INPUT, "%s: layer %s: %s has the wrong size", path, layer, name);
  else if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) Fail(st, PD_ERR_FILE, "%s: layer %s: cannot read %s", path, layer, name);
done:
  if (sp >= 0) (void)H5Sclose(sp);
  if (d >= 0) (void)H5Dclose(d);
}

typedef struct {
  PdNN    net;
  hid_t   f;
  Status *st;
} MetaCtx;

static herr_t MetaVisit(hid_t loc, const char *name, const H5A_info_t *info, void *ctx)
{
  MetaCtx *c = (MetaCtx *)ctx;
  hid_t    a, sp;
  hssize_t n;
  double  *v;

  (void)info;
  if (strncmp(name, "meta_", 5)) return 0;
  a  = H5Aopen(loc, name, H5P_DEFAULT);
  sp = a < 0 ? -1 : H5Aget_space(a);
  n  = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
  v  = n > 0 ? malloc((size_t)n * sizeof(double)) : NULL;
  if (!v || H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0 || PdNNSetMeta(c->net, name + 5, (PetscInt)n, v)) Fail(c->st, PD_ERR_INPUT, "model metadata %s unreadable", name + 5);
  free(v);
  if (sp >= 0) (void)H5Sclose(sp);
  if (a >= 0) (void)H5Aclose(a);
  return 0;
}

/* Rank 0: everything into theta (and m, v, V when wanted), checked. */
static void ReadAll(PdNN net, const char *path, const char *kind, float *theta, double *m, double *v, long long *t, double *V, Status *st)
{
  char      fk[256] = "";
  long long dims    = 0;
  hid_t     f;
  MetaCtx   mc = {net, -1, st};

  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (access(path, R_OK)) {
    Fail(st, PD_ERR_FILE, "%s: cannot open the model file", path);
    return;
  }
  if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
    Fail(st, PD_ERR_FILE, "%s: not an HDF5 file", path);
    return;
  }
  mc.f = f;
  if (!AttrReadString(f, "model_kind", fk, sizeof(fk))) Fail(st, PD_ERR_INPUT, "%s: not a pdecon model (no model_kind)", path);
  else if (strcmp(fk, kind)) Fail(st, PD_ERR_INPUT, "%s: a %s model, not %s", path, fk, kind);
  else if (!AttrRead(f, "dims", H5T_NATIVE_LLONG, 1, &dims) || dims != net->dims) Fail(st, PD_ERR_INPUT, "%s: a %lldD model, not %" PetscInt_FMT "D", path, dims, net->dims);
  if (!st->code) {
    /* the same layers in the same order, none more */
    hid_t st64 = H5Tcopy(H5T_C_S1);
    char *names = calloc((size_t)net->nl, 64);
    if (st64 < 0 || !names || H5Tset_size(st64, 64) < 0 || !AttrRead(f, "layer_names", st64, net->nl, names)) Fail(st, PD_ERR_INPUT, "%s: not a model of %" PetscInt_FMT " layers", path, net->nl);
    for (PetscInt l = 0; l < net->nl && !st->code; l++)
      if (strncmp(names + 64 * l, net->L[l].name, 64)) Fail(st, PD_ERR_INPUT, "%s: layer %" PetscInt_FMT " is %.63s, not %s", path, l, names + 64 * l, net->L[l].name);
    free(names);
    if (st64 >= 0) (void)H5Tclose(st64);
  }
  if (m && !st->code && !AttrRead(f, "adam_t", H5T_NATIVE_LLONG, 1, t)) Fail(st, PD_ERR_INPUT, "%s: no Adam state", path);
  for (PetscInt l = 0; l < net->nl && !st->code; l++) {
    const PdNNLayer *L = &net->L[l];
    long long        s[SHAPE_LEN], fs[SHAPE_LEN];
    char             lk[64] = "";
    double           slope = 0;
    hid_t            g     = H5Lexists(f, L->name, H5P_DEFAULT) > 0 ? H5Gopen2(f, L->name, H5P_DEFAULT) : -1;

    LayerShape(L, s);
    if (g < 0) Fail(st, PD_ERR_INPUT, "%s: no layer %s", path, L->name);
    else if (!AttrReadString(g, "kind", lk, sizeof(lk)) || strcmp(lk, PdNNLayerKinds[L->kind])) Fail(st, PD_ERR_INPUT, "%s: layer %s is a %s layer, not %s", path, L->name, lk, PdNNLayerKinds[L->kind]);
    else if (!AttrRead(g, "shape", H5T_NATIVE_LLONG, SHAPE_LEN, fs) || memcmp(s, fs, sizeof(s)) || !AttrRead(g, "slope", H5T_NATIVE_DOUBLE, 1, &slope) || slope != L->slope)
      Fail(st, PD_ERR_INPUT, "%s: layer %s has the wrong shape (%lld -> %lld channels, kernel %lld; expected %lld -> %lld, kernel %lld)", path, L->name, fs[0], fs[1], fs[2], s[0], s[1], s[2]);
    if (L->nw) DsetRead(g, path, L->name, "weight", H5T_NATIVE_FLOAT, L->nw, theta + L->woff, st);
    if (L->nb) DsetRead(g, path, L->name, "bias", H5T_NATIVE_FLOAT, L->nb, theta + L->boff, st);
    if (L->nw + L->nb && m) {
      DsetRead(g, path, L->name, "adam_m", H5T_NATIVE_DOUBLE, L->nw + L->nb, m + L->woff, st);
      DsetRead(g, path, L->name, "adam_v", H5T_NATIVE_DOUBLE, L->nw + L->nb, v + L->woff, st);
    }
    if (L->nw + L->nb && V) DsetRead(g, path, L->name, "sgd_V", H5T_NATIVE_DOUBLE, L->nw + L->nb, V + L->woff, st);
    if (g >= 0) (void)H5Gclose(g);
  }
  for (PetscInt i = 0; i < net->np && !st->code; i++)
    if (!isfinite(theta[i]) || (m && (!isfinite(m[i]) || !isfinite(v[i]))) || (V && !isfinite(V[i]))) {
      PetscInt l = 0;
      while (l + 1 < net->nl && net->L[l + 1].woff <= i) l++;
      Fail(st, PD_ERR_INPUT, "%s: layer %s holds NaN or Inf", path, net->L[l].name);
    }
  if (!st->code) {
    (void)H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, NULL, MetaVisit, &mc);
  }
  (void)H5Fclose(f);
}

/* Rank 0's metadata to the other ranks. */
static PetscErrorCode BcastMeta(PdNN net, MPI_Comm comm)
{
  PetscInt nm = net->nmeta;
  int      rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Bcast(&nm, 1, MPIU_INT, 0, comm));
  for (PetscInt i = 0; i < nm; i++) {
    char     name[64];
    PetscInt n = rank ? 0 : net->meta[i].n;
    double  *v = NULL;

    if (!rank) PetscCall(PetscStrncpy(name, net->meta[i].name, sizeof(name)));
    PetscCallMPI(MPI_Bcast(name, sizeof(name), MPI_CHAR, 0, comm));
    PetscCallMPI(MPI_Bcast(&n, 1, MPIU_INT, 0, comm));
    PetscCall(PetscMalloc1(PetscMax(n, 1), &v));
    if (!rank) PetscCall(PetscArraycpy(v, net->meta[i].v, n));
    PetscCallMPI(MPI_Bcast(v, (int)n, MPI_DOUBLE, 0, comm));
    if (rank) PetscCall(PdNNSetMeta(net, name, n, v));
    PetscCall(PetscFree(v));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNLoad(PdNN net, MPI_Comm comm, const char path[], const char kind[], PdAdam adam, PdSGD sgd)
{
  Status    st = {0, ""};
  int       rank;
  float    *theta;
  double   *m = NULL, *v = NULL, *V = NULL, *am = NULL, *av = NULL, *sV = NULL;
  long long t = 0;

  PetscFunctionBegin;
  PetscCall(CheckOptimizers(net, adam, sgd));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* read into temporaries: a bad file leaves the network and the optimisers as they were */
  PetscCall(PetscMalloc1(PetscMax(net->np, 1), &theta));
  if (adam) PetscCall(PetscMalloc2(PetscMax(net->np, 1), &m, PetscMax(net->np, 1), &v));
  if (sgd) PetscCall(PetscMalloc1(PetscMax(net->np, 1), &V));
  if (!rank) ReadAll(net, path, kind, theta, m, v, &t, V, &st);
  PetscCallMPI(MPI_Bcast(&st, (int)sizeof(st), MPI_BYTE, 0, comm));
  if (st.code) {
    PetscCall(PetscFree(theta));
    if (adam) PetscCall(PetscFree2(m, v));
    PetscCall(PetscFree(V));
    SETERRQ(comm, st.code, "%s", st.msg);
  }
  PetscCallMPI(MPI_Bcast(theta, (int)net->np, MPI_FLOAT, 0, comm));
  PetscCall(PetscArraycpy(net->theta, theta, net->np));
  if (adam) {
    PetscInt tt;
    PetscCallMPI(MPI_Bcast(m, (int)net->np, MPI_DOUBLE, 0, comm));
    PetscCallMPI(MPI_Bcast(v, (int)net->np, MPI_DOUBLE, 0, comm));
    PetscCallMPI(MPI_Bcast(&t, 1, MPI_LONG_LONG, 0, comm));
    PetscCall(PdAdamGetState(adam, NULL, NULL, &am, &av));
    PetscCall(PetscArraycpy(am, m, net->np));
    PetscCall(PetscArraycpy(av, v, net->np));
    tt = (PetscInt)t;
    PetscCall(PdAdamSetStepCount(adam, tt));
  }
  if (sgd) {
    PetscCallMPI(MPI_Bcast(V, (int)net->np, MPI_DOUBLE, 0, comm));
    PetscCall(PdSGDGetState(sgd, NULL, &sV));
    PetscCall(PetscArraycpy(sV, V, net->np));
  }
  PetscCall(BcastMeta(net, comm));
  PetscCall(PetscFree(theta));
  if (adam) PetscCall(PetscFree2(m, v));
  PetscCall(PetscFree(V));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNFileKind(MPI_Comm comm, const char path[], char kind[], size_t len)
{
  Status st = {0, ""};
  char   k[256] = "";
  int    rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    hid_t f;
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK)) Fail(&st, PD_ERR_FILE, "%s: cannot open the model file", path);
    else if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) Fail(&st, PD_ERR_FILE, "%s: not an HDF5 file", path);
    else {
      if (!AttrReadString(f, "model_kind", k, sizeof(k))) Fail(&st, PD_ERR_INPUT, "%s: not a pdecon model (no model_kind)", path);
      (void)H5Fclose(f);
    }
  }
  PetscCall(Agree(comm, &st));
  PetscCallMPI(MPI_Bcast(k, sizeof(k), MPI_CHAR, 0, comm));
  PetscCall(PetscStrncpy(kind, k, len));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNFileMeta(MPI_Comm comm, const char path[], const char name[], PetscInt n, double vals[])
{
  Status st = {0, ""};
  int    rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    char  an[80];
    hid_t f, a;
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(an, sizeof(an), "meta_%s", name);
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) Fail(&st, PD_ERR_FILE, "%s: not an HDF5 file", path);
    else {
      a = H5Aexists(f, an) > 0 ? H5Aopen(f, an, H5P_DEFAULT) : -1;
      if (a < 0) Fail(&st, PD_ERR_INPUT, "%s: no model metadata %s", path, name);
      else {
        hid_t sp = H5Aget_space(a);
        if (H5Sget_simple_extent_npoints(sp) != (hssize_t)n || H5Aread(a, H5T_NATIVE_DOUBLE, vals) < 0) Fail(&st, PD_ERR_INPUT, "%s: model metadata %s unreadable or of another size", path, name);
        (void)H5Sclose(sp);
        (void)H5Aclose(a);
      }
      (void)H5Fclose(f);
    }
  }
  PetscCall(Agree(comm, &st));
  PetscCallMPI(MPI_Bcast(vals, (int)n, MPI_DOUBLE, 0, comm));
  PetscFunctionReturn(0);
}
