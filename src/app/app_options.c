/* Option helpers shared by the subcommands. */
#include "app.h"
#include <stdio.h>
#include <string.h>
#include <stdarg.h>

PetscErrorCode AppOptionsGetSize3(const char *opt, const char *help, ptrdiff_t n[3], PetscBool *set)
{
  PetscInt v[3] = {0, 0, 0}, cnt = 3;
  char     txt[64];

  PetscFunctionBegin;
  (void)help;
  PetscCall(PetscOptionsGetIntArray(NULL, NULL, opt, v, &cnt, set));
  if (*set) {
    PetscCheck(cnt == 3 || cnt == 1, PETSC_COMM_WORLD, PD_ERR_INPUT, "%s takes z,y,x (three sizes) or one size for all axes", opt);
    for (int d = 0; d < 3; d++) {
      n[d] = v[cnt == 1 ? 0 : d];
      PetscCheck(n[d] >= 1, PETSC_COMM_WORLD, PD_ERR_INPUT, "%s: sizes must be positive", opt);
    }
  }
  snprintf(txt, sizeof(txt), "%td,%td,%td", n[0], n[1], n[2]);
  (void)txt;
  PetscFunctionReturn(0);
}

PetscErrorCode AppOptionsString(char **s)
{
  char *all;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetAll(NULL, &all));
  {
    /* -no_signal_handler is pdecon's own setting (main.c), not the user's: not recorded */
    const char *own = "-no_signal_handler";
    char       *p   = strstr(all, own);
    if (p && (p[strlen(own)] == ' ' || !p[strlen(own)])) {
      size_t skip = strlen(own) + (p[strlen(own)] == ' ');
      memmove(p, p + skip, strlen(p + skip) + 1);
      if (p > all && !*p && p[-1] == ' ') p[-1] = 0;
    }
  }
  *s = all;
  PetscFunctionReturn(0);
}

/* The option whose value is `value` (the database holds no record of which one PETSc was
   parsing when it failed): "-name", or "" when none matches. */
static void OptionWithValue(const char *value, char *name, size_t len)
{
  char *all, *tok, *save, prev[256] = "";

  name[0] = 0;
  if (PetscOptionsGetAll(NULL, &all)) return;
  for (tok = strtok_r(all, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    /* a value follows its option; an array value "1,a,3" contains the bad item */
    if (prev[0] && (!strcmp(tok, value) || (strchr(tok, ',') && strstr(tok, value)))) {
      snprintf(name, len, "%s", prev);
      break;
    }
    if (tok[0] == '-' && (tok[1] < '0' || tok[1] > '9') && tok[1] != '.') snprintf(prev, sizeof(prev), "%s", tok);
    else prev[0] = 0;
  }
  PetscFree(all);
}

PetscBool AppOptionValueError(const char *mess, char *line, size_t len)
{
  char        value[256], name[256];
  const char *accepts = NULL;
  const char *p;

  if (!mess) return PETSC_FALSE;
  /* PETSc's messages for values it cannot parse (PetscOptionsStringTo*, enum lists) */
  if (strstr(mess, " has no integer value") && sscanf(mess, "Input string %255s", value) == 1) accepts = "an integer";
  else if (strstr(mess, " has no numeric value") && sscanf(mess, "Input string %255s", value) == 1) accepts = "a number";
  else if (sscanf(mess, "Unknown logical value: %255s", value) == 1) accepts = "true or false (also yes/no, 1/0)";
  else if (sscanf(mess, "Unknown option %255s for %255[^.]", value, name) == 2 && (p = strstr(mess, "Available options:"))) {
    char list[512];
    snprintf(list, sizeof(list), "%s", p + strlen("Available options:"));
    while (list[0] && list[strlen(list) - 1] == ' ') list[strlen(list) - 1] = 0;
    snprintf(line, len, "%s: '%s' is not accepted; one of:%s", name, value, list);
    return PETSC_TRUE;
  } else return PETSC_FALSE;
  OptionWithValue(value, name, sizeof(name));
  if (name[0]) snprintf(line, len, "%s: '%s' is not %s", name, value, accepts);
  else snprintf(line, len, "option value '%s' is not %s", value, accepts);
  return PETSC_TRUE;
}

PetscErrorCode AppWarning(MPI_Comm comm, const char *fmt, ...)
{
  char    msg[2048];
  va_list ap;
  int     rank;

  PetscFunctionBegin;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    fprintf(stderr, "pdecon: warning: %s\n", msg);
    fflush(stderr);
  }
  PetscFunctionReturn(0);
}

/* The names of the options the command has read: while it reads them PETSc believes -help was
   given and "prints" each option's help line here, where only the names are kept. */
static char known[32768];

static PetscErrorCode CaptureHelp(MPI_Comm comm, const char fmt[], ...)
{
  char    line[2048], *p;
  va_list ap;

  (void)comm;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  for (p = strstr(line, "  -"); p; p = strstr(p + 3, "  -")) {
    char name[128];
    if (sscanf(p + 2, "%127[A-Za-z0-9_-]", name) == 1 && strlen(known) + strlen(name) + 2 < sizeof(known)) {
      char key[132];
      snprintf(key, sizeof(key), " %s ", name);
      if (!strstr(known, key)) {
        if (!known[0]) strcat(known, " ");
        strcat(known, name);
        strcat(known, " ");
      }
    }
  }
  return 0;
}

PetscErrorCode AppOptionsRecordNames(void)
{
  PetscFunctionBegin;
  known[0]        = 0;
  PetscHelpPrintf = CaptureHelp;
  PetscCall(PetscOptionsSetValue(NULL, "-help", NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode AppOptionsRecordNamesEnd(void)
{
  PetscFunctionBegin;
  if (PetscHelpPrintf != CaptureHelp) PetscFunctionReturn(0);
  PetscHelpPrintf = PetscHelpPrintfDefault;
  PetscCall(PetscOptionsClearValue(NULL, "-help"));
  PetscFunctionReturn(0);
}

/* Edit distance of two option names (insertions, deletions, substitutions, transpositions). */
static size_t Distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), d[64][64];
  if (la >= 64 || lb >= 64) return 64;
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      c        = PetscMin(c, d[i - 1][j] + 1);
      c        = PetscMin(c, d[i][j - 1] + 1);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) c = PetscMin(c, d[i - 2][j - 2] + 1);
      d[i][j] = c;
    }
  return d[la][lb];
}

void AppOptionsClosest(const char *name, char *best, size_t len)
{
  char   copy[sizeof(known)], *tok, *save;
  size_t bestd = 64;

  best[0] = 0;
  snprintf(copy, sizeof(copy), "%s", known);
  for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    size_t dd = Distance(name, tok + 1); /* tok is "-name" */
    if (dd < bestd) {
      bestd = dd;
      snprintf(best, len, "%s", tok);
    }
  }
  /* a suggestion only when it is close: a typo, not another option */
  if (bestd > PetscMax(2, strlen(name) / 4)) best[0] = 0;
}
