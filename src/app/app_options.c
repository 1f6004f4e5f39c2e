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
